// The header menu is a <details>: on a phone it folds behind one button and needs no script.
// From 48rem wide the stylesheet shows it always; keeping it open there as well lets older
// browsers (no ::details-content) and assistive technologies see it as plain navigation.
(function () {
  var menu = document.querySelector(".site-menu");
  if (!menu || !window.matchMedia) return;
  var wide = window.matchMedia("(min-width: 48rem)");
  function sync() { menu.open = wide.matches; }
  sync();
  if (wide.addEventListener) wide.addEventListener("change", sync);
})();
