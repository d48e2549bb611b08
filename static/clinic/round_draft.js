(function () {
  // Nothing lost if the tablet sleeps or the login times out: what is typed stays in this
  // browser until the round is saved. A draft made before the latest round was saved
  // belongs to that round (or is stale), so it is dropped.
  var form = document.getElementById("round-form");
  var notice = document.getElementById("round-draft");
  var key = form.dataset.draftKey;
  var after = form.dataset.draftAfter;
  function read() {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function save() {
    var values = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") { values[name] = value; }
    });
    try {
      localStorage.setItem(key, JSON.stringify({ after: after, at: Date.now(), values: values }));
    } catch (e) { /* storage full or disabled: the form still works */ }
  }
  function clear() {
    try { localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
    notice.hidden = true;
  }
  var draft = read();
  if (draft && draft.after !== after) { clear(); draft = null; }
  if (form.dataset.bound === "true") {
    save();  // refused by the server: the page shows what was typed, keep it
  } else if (draft && draft.values) {
    Object.keys(draft.values).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) { field.value = draft.values[name]; }
    });
    document.getElementById("round-draft-at").textContent = new Date(draft.at).toLocaleTimeString(
      [], { hour: "2-digit", minute: "2-digit" }
    );
    notice.hidden = false;
  }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  document.getElementById("round-draft-clear").addEventListener("click", function () {
    clear();
    form.reset();
  });
})();
