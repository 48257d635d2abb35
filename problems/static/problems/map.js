/* Progressive enhancement of the problem pages: without JavaScript the list, the typed
   address and the latitude/longitude fields do everything; with it, a Leaflet map shows
   reports (clustered), lets a resident mark the place, and lists nearby duplicates. */
(function () {
  "use strict";
  var el = document.getElementById("problem-map");
  if (!el || !window.L) { return; }
  el.hidden = false;
  var help = document.getElementById("map-help");
  if (help) { help.hidden = false; }

  var map = L.map(el, { scrollWheelZoom: false });
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);

  function parse(list) { return list.split(",").map(Number); }
  if (el.dataset.point) {
    var p = parse(el.dataset.point);
    map.setView(p, 17);
  } else if (el.dataset.bounds) {
    var b = parse(el.dataset.bounds);
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]]);
  } else {
    map.setView([48.6, 31.2], 6);
  }

  if (el.dataset.picker) { picker(); }
  else if (el.dataset.endpoint) { browse(); }
  else if (el.dataset.point) { L.marker(parse(el.dataset.point)).addTo(map); }

  function browse() {
    var cluster = L.markerClusterGroup ? L.markerClusterGroup() : L.layerGroup();
    var groups = L.layerGroup();
    cluster.addTo(map);
    groups.addTo(map);
    var pending = null;
    function load() {
      var bounds = map.getBounds();
      var bbox = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
        .map(function (v) { return Math.max(-180, Math.min(180, v)).toFixed(5); }).join(",");
      var url = el.dataset.endpoint + "?bbox=" + bbox + (el.dataset.filters ? "&" + el.dataset.filters : "");
      if (pending) { pending.abort(); }
      pending = new AbortController();
      fetch(url, { signal: pending.signal, headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { points: [] }; })
        .then(function (data) {
          cluster.clearLayers();
          groups.clearLayers();
          (data.points || []).forEach(function (row) {
            var marker = L.marker([row[1], row[2]], { title: "#" + row[0] });
            marker.bindPopup('<a href="/problems/' + Number(row[0]) + '/">#' + Number(row[0]) + "</a>");
            cluster.addLayer(marker);
          });
          (data.clusters || []).forEach(function (row) {
            var icon = L.divIcon({ className: "marker-cluster marker-cluster-medium",
              html: "<div><span>" + Number(row[2]) + "</span></div>", iconSize: [40, 40] });
            L.marker([row[0], row[1]], { icon: icon, keyboard: false })
              .on("click", function () { map.setView([row[0], row[1]], map.getZoom() + 2); })
              .addTo(groups);
          });
        })
        .catch(function () { /* the list below stays the source of truth */ });
    }
    map.on("moveend", load);
    load();
  }

  function picker() {
    var lat = document.getElementById("id_lat");
    var lon = document.getElementById("id_lon");
    var category = document.getElementById("id_category");
    var seen = document.getElementById("id_not_duplicate");
    var marker = null;
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
    }
    if (lat && lon && lat.value && lon.value) {
      place([Number(lat.value), Number(lon.value)]);
      map.setView([Number(lat.value), Number(lon.value)], 17);
    }
    map.on("click", function (e) {
      place(e.latlng);
      lat.value = e.latlng.lat.toFixed(6);
      lon.value = e.latlng.lng.toFixed(6);
      nearby();
    });
    if (category) { category.addEventListener("change", nearby); }
    function nearby() {
      if (!lat.value || !lon.value || !category || !category.value) { return; }
      var url = "/problems/nearby.json?category=" + encodeURIComponent(category.value) +
        "&lat=" + encodeURIComponent(lat.value) + "&lon=" + encodeURIComponent(lon.value);
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { reports: [] }; })
        .then(function (data) {
          var box = document.getElementById("nearby");
          var list = document.getElementById("nearby-list");
          list.textContent = "";
          (data.reports || []).forEach(function (r) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = r.url;
            a.textContent = "#" + r.id + " " + r.title;
            li.appendChild(a);
            li.appendChild(document.createTextNode(" (" + r.distance_m + " m, " + r.status + ")"));
            list.appendChild(li);
          });
          box.hidden = !(data.reports || []).length;
          // The resident has now seen the nearby reports: the server need not ask again.
          if (seen) { seen.value = "True"; }
        })
        .catch(function () {});
    }
  }
})();
