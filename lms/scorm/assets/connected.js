/* The connected package's launch page: open the hosted course for the LMS's
 * learner and report their progress on our server back to the LMS. */
(function () {
  "use strict";
  var root = document.documentElement;
  var scorm = new window.KratomScorm(root.getAttribute("data-scorm-version"));
  var server = root.getAttribute("data-server");
  var token = root.getAttribute("data-package");
  var message = document.getElementById("message");
  var open = document.getElementById("open-course");
  var finish = document.getElementById("finish");
  var last = null;

  function say(text) { message.textContent = text; }

  function poll(url, seconds) {
    fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (status) {
        if (status.error) { say(status.error.message); return; }
        var key = JSON.stringify(status);
        if (key !== last && status.started) {
          scorm.report(status);
          last = key;
          document.body.setAttribute("data-reported", key);
        }
        say(status.success_status === "passed"
          ? "You have completed the course and passed the post-test. You may close this window."
          : "Your progress is saved as you go: lessons and the post-test are in the course window.");
      })
      .catch(function () { say("Cannot reach the course server; retrying."); })
      .then(function () { window.setTimeout(function () { poll(url, seconds); }, seconds * 1000); });
  }

  if (!scorm.api || !scorm.initialize()) {
    say("This course must be opened from your LMS (no SCORM API found).");
    return;
  }
  var id = scorm.learnerId();
  var query = "?package=" + encodeURIComponent(token) + "&learner=" + encodeURIComponent(id) +
    "&name=" + encodeURIComponent(scorm.learnerName());
  fetch(server + "/scorm/session/" + query, { credentials: "omit", cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(function (session) {
      if (session.error) { say(session.error.message); return; }
      open.href = session.launch_url;
      open.hidden = false;
      say("Open the course to read the lessons and take the post-test.");
      poll(session.status_url, session.poll_seconds || 15);
    })
    .catch(function () { say("Cannot reach the course server. Check your connection and reload."); });

  finish.addEventListener("click", function () {
    scorm.finish(last !== null && JSON.parse(last).completion_status === "completed");
    say("Session ended. You may close this window.");
  });
  window.addEventListener("pagehide", function () {
    scorm.finish(last !== null && JSON.parse(last).completion_status === "completed");
  });
  // Handlers are attached: the page is ready for the learner (and for tests to click).
  document.documentElement.setAttribute("data-ready", "1");
}());
