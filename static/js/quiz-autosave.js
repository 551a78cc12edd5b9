/* The attempt page (templates/quizzes/attempt_form.html) saves each answer as it is chosen, so a
   clinician called away mid-test, whose phone then drops the tab, finds the answers kept. It
   PUTs only the questions that changed to the API's save endpoint (lms/api/v1/attempts.py,
   AttemptAnswersSaveApi), which writes nothing but those answers and never grades.

   Without this script the page works as before: "Save and finish later" and "Submit" post the
   whole form. With it, nothing changes on the server that those buttons would not change.
   Offline, or while the server is away, the answers stay on the page and are sent again when
   the browser is back online; leaving the page with answers unsent asks first.
   Served as a static file: the CSP allows no inline script. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave-url]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-autosave-url");
  var status = document.querySelector("[data-autosave-status]");
  var counter = document.querySelector("[data-answered-count]");
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var RETRY_MS = 5000;

  var dirty = {};       // question id -> change number not yet saved
  var changes = 0;
  var timer = null;
  var inFlight = false;
  var stopped = false;  // a refusal that sending again would not mend (closed, signed out)
  var leaving = false;  // the form itself is being submitted: it carries every answer

  function say(text) {
    status.textContent = text;
    status.hidden = false;
  }

  function delay() {
    var configured = Number(form.getAttribute("data-autosave-delay"));
    return configured > 0 ? configured : 800;
  }

  function questionOf(input) {
    var match = /^[qc](\d+)$/.exec(input.name || "");
    return match ? match[1] : null;
  }

  function answerOf(id) {
    var options = [];
    form.querySelectorAll("input[name=q" + id + "]:checked").forEach(function (input) {
      options.push(Number(input.value));
    });
    var sure = form.querySelector("input[name=c" + id + "]:checked");
    return { question: Number(id), options: options, confidence: sure ? sure.value : "" };
  }

  function countAnswered() {
    if (!counter) { return; }
    var answered = 0;
    form.querySelectorAll("fieldset.question").forEach(function (question) {
      if (question.querySelector("ul.options input:checked")) { answered += 1; }
    });
    counter.textContent = String(answered);
  }

  function pending() {
    return Object.keys(dirty).length > 0;
  }

  function schedule(ms) {
    if (timer !== null) { window.clearTimeout(timer); }
    timer = window.setTimeout(function () { timer = null; flush(false); }, ms);
  }

  function refusal(response) { // the API's {"error": {"code", "message", "fields"}}
    return response.json().then(
      function (body) { return (body && body.error) || {}; },
      function () { return {}; }
    );
  }

  function flush(keepalive) {
    if (stopped || inFlight || leaving || !pending()) { return; }
    var sent = {};
    var answers = Object.keys(dirty).map(function (id) {
      sent[id] = dirty[id];
      return answerOf(id);
    });
    inFlight = true;
    fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: keepalive,
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ answers: answers })
    }).then(function (response) {
      inFlight = false;
      if (response.ok) {
        Object.keys(sent).forEach(function (id) {
          if (dirty[id] === sent[id]) { delete dirty[id]; } // unless it changed again meanwhile
        });
        return response.json().then(function (attempt) {
          var at = new Date(attempt.saved_at);
          var time = isNaN(at) ? "" : " at " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
          if (pending()) {
            schedule(delay());
          } else {
            say("Answers saved" + time + ".");
          }
        });
      }
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        stopped = true;
        say("Not saved: you are no longer signed in as this attempt's learner. " +
            "Sign in again in another tab, then press “Save and finish later”.");
        return null;
      }
      if (response.status === 409 || response.status === 400) {
        return refusal(response).then(function (error) {
          if (error.code === "conflict") { // another tab's save won a race: send again
            schedule(delay());
            return;
          }
          stopped = true; // closed (submitted elsewhere, or a pre-test the post-test closed), or unreadable
          say("Not saved: " + (error.message || "the server refused these answers.") +
              (response.status === 400 ? " Press “Save and finish later” to see what is wrong." : ""));
        });
      }
      // 429 (too many saves), 503 (database away) or another server error: try again later.
      var wait = Number(response.headers.get("Retry-After"));
      say("Not saved yet: the server is busy. Your answers stay on this page and will be saved shortly.");
      schedule(wait > 0 ? wait * 1000 : RETRY_MS);
      return null;
    }, function () {
      inFlight = false;
      say("Not saved yet: no connection. Your answers stay on this page and will be saved when you are back online.");
      schedule(RETRY_MS);
    });
  }

  form.addEventListener("change", function (event) {
    var id = questionOf(event.target);
    if (id === null) { return; }
    changes += 1;
    dirty[id] = changes;
    countAnswered();
    schedule(delay());
  });

  // Answers chosen before this script ran (a slow phone) differ from what the server rendered.
  form.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (input) {
    var id = questionOf(input);
    if (id !== null && input.checked !== input.defaultChecked) {
      changes += 1;
      dirty[id] = changes;
    }
  });
  if (pending()) {
    countAnswered();
    schedule(delay());
  }

  form.addEventListener("submit", function () { leaving = true; });
  window.addEventListener("online", function () { flush(false); });
  // A phone hides the page before it discards it: send now, and let the request outlive the page.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); }
  });
  window.addEventListener("pagehide", function () { flush(true); });
  window.addEventListener("beforeunload", function (event) {
    if (!leaving && !stopped && (pending() || inFlight)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}());
