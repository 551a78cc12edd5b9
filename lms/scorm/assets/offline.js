/* The self-contained package: show one lesson at a time, check knowledge-check
 * answers on the spot, and tell the LMS what the reader has done: completed
 * once every lesson has been shown, the knowledge-check score (first tries),
 * and the session time. Nothing here counts towards credit. */
(function () {
  "use strict";
  var scorm = new window.KratomScorm(document.documentElement.getAttribute("data-scorm-version"));
  var lessons = Array.prototype.slice.call(document.querySelectorAll("section.lesson"));
  var questions = Array.prototype.slice.call(document.querySelectorAll("form.question"));
  var state = { viewed: {}, answered: {} };  // answered: question id -> first try correct (1/0)

  function restore() {
    try {
      var saved = JSON.parse(scorm.get("cmi.suspend_data") || "{}");
      state.viewed = saved.viewed || {};
      state.answered = saved.answered || {};
    } catch (e) { /* first launch or foreign data: start afresh */ }
  }

  function completed() { return lessons.every(function (_, i) { return state.viewed[i]; }); }

  function save() {
    scorm.set("cmi.suspend_data", JSON.stringify(state));
    var ids = Object.keys(state.answered);
    var correct = ids.filter(function (id) { return state.answered[id]; }).length;
    var status = {
      lesson_status: completed() ? "completed" : "incomplete",
      completion_status: completed() ? "completed" : "incomplete",
      success_status: "unknown",  // no post-test offline: no pass or fail
      score_raw: questions.length && ids.length ? Math.round(100 * correct / questions.length) : null,
      progress_measure: Object.keys(state.viewed).length / lessons.length
    };
    scorm.report(status);
  }

  function show(index, target) {
    lessons.forEach(function (lesson, i) { lesson.hidden = i !== index; });
    state.viewed[index] = 1;
    save();
    var focus = target || lessons[index].querySelector("h1");
    if (!focus.hasAttribute("tabindex")) { focus.setAttribute("tabindex", "-1"); }
    focus.focus();
    focus.scrollIntoView();
  }

  function check(form, event) {
    event.preventDefault();
    var key = JSON.parse(form.getAttribute("data-key"));
    var chosen = Array.prototype.slice.call(form.querySelectorAll("input:checked"))
      .map(function (input) { return Number(input.value); }).sort();
    if (!chosen.length) { form.querySelector(".result").textContent = "Choose an answer first."; return; }
    var right = JSON.stringify(chosen) === JSON.stringify(key);
    if (!(form.id in state.answered)) { state.answered[form.id] = right ? 1 : 0; }
    form.querySelector(".result").textContent = right ? "Correct." : "Not quite: see the explanations.";
    Array.prototype.forEach.call(form.querySelectorAll(".rationale"), function (r) { r.hidden = false; });
    save();
  }

  if (!scorm.api || !scorm.initialize()) {
    document.querySelector(".notice").textContent += " (No LMS found: progress is not recorded.)";
  }
  restore();
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-goto]");
    if (target) { event.preventDefault(); show(Number(target.getAttribute("data-goto"))); return; }
    // A citation, a footnote back-link or a link to another lesson: show the lesson holding it.
    var link = event.target.closest("a[href^='#']");
    var anchor = link && document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    var section = anchor && anchor.closest("section.lesson");
    if (section) { event.preventDefault(); show(lessons.indexOf(section), anchor); }
    if (event.target.closest(".finish")) { scorm.finish(completed()); }
  });
  questions.forEach(function (form) { form.addEventListener("submit", function (e) { check(form, e); }); });
  window.addEventListener("pagehide", function () { scorm.finish(completed()); });
  show(0);
  // Handlers are attached: the page is ready for the learner (and for tests to click).
  document.documentElement.setAttribute("data-ready", "1");
}());
