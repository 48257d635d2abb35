/* Progressive enhancement of the public-budget pages. Without JavaScript the list of
   projects (with addresses) and the typed latitude/longitude fields do everything; with it,
   a Leaflet map shows the programme's projects (clustered), one project's place, or lets
   the author mark the place on the proposal form. Titles are set as text, never as HTML. */
(function () {
  "use strict";
  var el = document.getElementById("project-map");
  if (!el || !window.L) { return; }
  el.hidden = false;
  var help = document.getElementById("project-map-help");
  if (help) { help.hidden = false; }

  var map = L.map(el, { scrollWheelZoom: false });
  L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);

  function num(value) { return value === "" || value === undefined ? NaN : Number(value); }

  if (el.dataset.picker) { picker(); return; }
  if (el.dataset.lat) {
    var point = [num(el.dataset.lat), num(el.dataset.lon)];
    L.marker(point, { title: el.dataset.title || "" }).addTo(map);
    map.setView(point, 16);
    return;
  }
  var source = document.getElementById(el.dataset.points);
  var points = source ? JSON.parse(source.textContent) : [];
  var group = L.markerClusterGroup ? L.markerClusterGroup() : L.featureGroup();
  points.forEach(function (p) {
    var marker = L.marker([p.lat, p.lon], { title: p.title, alt: p.title });
    var box = document.createElement("div");
    box.className = "project-popup";
    if (p.thumb) {
      var img = document.createElement("img");
      img.src = p.thumb;
      img.alt = "";
      img.width = 120;
      box.appendChild(img);
    }
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = p.title;
    var title = document.createElement("p");
    title.appendChild(link);
    box.appendChild(title);
    if (p.address) {
      var address = document.createElement("p");
      address.textContent = p.address;
      box.appendChild(address);
    }
    marker.bindPopup(box);
    group.addLayer(marker);
  });
  group.addTo(map);
  if (points.length) {
    map.fitBounds(group.getBounds(), { padding: [24, 24], maxZoom: 16 });
  } else {
    map.setView([48.6, 31.2], 6);
  }

  function picker() {
    var lat = document.getElementById("id_latitude");
    var lon = document.getElementById("id_longitude");
    if (!lat || !lon) { return; }
    var marker = null;
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
    }
    if (lat.value && lon.value) {
      place([num(lat.value), num(lon.value)]);
      map.setView([num(lat.value), num(lon.value)], 16);
    } else if (el.dataset.center) {
      map.setView(el.dataset.center.split(",").map(Number), 12);
    } else {
      map.setView([48.6, 31.2], 6);
    }
    map.on("click", function (e) {
      place(e.latlng);
      lat.value = e.latlng.lat.toFixed(6);
      lon.value = e.latlng.lng.toFixed(6);
    });
  }
})();
