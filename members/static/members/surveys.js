// Progressive enhancement of the survey form: a question whose condition is not met is hidden
// and its inputs disabled (so they are not sent). Without JavaScript every question shows with
// its "answer only if" note and the server applies the same rule when the form is saved.
(function () {
  "use strict";
  var form = document.querySelector(".survey-form");
  if (!form) return;
  var dependents = form.querySelectorAll("[data-show-if]");
  function value(name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    var picked = [];
    inputs.forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
      if (!input.disabled && input.value) picked.push(input.value);
    });
    return picked;
  }
  function update() {
    dependents.forEach(function (box) {
      var controller = form.querySelector('[name="' + box.dataset.showIf + '"]');
      var controllerBox = controller && controller.closest(".survey-question");
      var controllerShown = !controllerBox || !controllerBox.classList.contains("is-hidden");
      var shown = controllerShown && value(box.dataset.showIf).indexOf(box.dataset.showValue) !== -1;
      box.classList.toggle("is-hidden", !shown);
      box.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !shown;
      });
      var note = box.querySelector(".survey-condition");
      if (note) note.hidden = true;
    });
  }
  form.addEventListener("change", function () { update(); update(); });
  update();
  update();
})();
