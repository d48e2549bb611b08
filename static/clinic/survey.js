// The survey page: answered-question count, autosave failure notice, focus on errors.
(function () {
  var form = document.getElementById("survey-form");
  var progress = document.getElementById("survey-progress");
  var count = document.getElementById("answered-count");
  var names = [];
  form.querySelectorAll("input[type=radio]").forEach(function (input) {
    if (names.indexOf(input.name) < 0) { names.push(input.name); }
  });
  form.addEventListener("change", function () {
    var answered = names.filter(function (name) {
      return form.querySelector('input[name="' + name + '"]:checked');
    }).length;
    progress.value = answered;
    count.textContent = answered;
  });
  // A draft that could not be saved says so (htmx reports the failed autosave).
  form.addEventListener("htmx:responseError", function () {
    document.getElementById("draft-status").textContent = form.dataset.unsaved;
  });
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
