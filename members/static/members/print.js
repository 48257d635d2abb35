// The printable report view: a "Print" button that opens the browser's print dialog.
// Progressive enhancement only: without JavaScript the browser's own Print menu works.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-report");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
