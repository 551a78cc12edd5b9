/* A small SCORM 1.2 / 2004 runtime wrapper for our packages.
 * Finds the LMS's API object (window.API for 1.2, window.API_1484_11 for 2004)
 * in the parent frames or the opener, as the SCORM run-time guides describe,
 * and names the data-model elements of each version in one place. */
(function (global) {
  "use strict";

  function findIn(win, name) {
    for (var hops = 0; win && hops < 10; hops += 1) {
      try {
        if (win[name]) { return win[name]; }
      } catch (e) { /* a cross-origin frame: keep climbing */ }
      if (!win.parent || win.parent === win) { break; }
      win = win.parent;
    }
    return null;
  }

  function findApi(name) {
    return findIn(global, name) || (global.opener ? findIn(global.opener, name) : null);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function Scorm(version) {
    this.version = version;
    this.is2004 = version === "2004";
    this.api = findApi(this.is2004 ? "API_1484_11" : "API");
    this.started = Date.now();
    this.active = false;
  }

  Scorm.prototype.call = function (name12, name2004, args) {
    if (!this.api) { return ""; }
    var fn = this.api[this.is2004 ? name2004 : name12];
    return fn ? String(fn.apply(this.api, args || [])) : "";
  };
  Scorm.prototype.initialize = function () {
    this.active = this.call("LMSInitialize", "Initialize", [""]) === "true";
    return this.active;
  };
  Scorm.prototype.get = function (name) { return this.call("LMSGetValue", "GetValue", [name]); };
  Scorm.prototype.set = function (name, value) {
    return this.call("LMSSetValue", "SetValue", [name, String(value)]) === "true";
  };
  Scorm.prototype.commit = function () { return this.call("LMSCommit", "Commit", [""]) === "true"; };
  Scorm.prototype.learnerId = function () {
    return this.get(this.is2004 ? "cmi.learner_id" : "cmi.core.student_id");
  };
  Scorm.prototype.learnerName = function () {
    return this.get(this.is2004 ? "cmi.learner_name" : "cmi.core.student_name");
  };
  Scorm.prototype.sessionTime = function () {
    var seconds = Math.max(0, Math.round((Date.now() - this.started) / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (this.is2004) { return "PT" + h + "H" + m + "M" + s + "S"; }
    return pad(h) + ":" + pad(m) + ":" + pad(s);
  };
  /* status: {lesson_status, completion_status, success_status, score_raw, progress_measure} */
  Scorm.prototype.report = function (status) {
    if (this.is2004) {
      this.set("cmi.completion_status", status.completion_status);
      this.set("cmi.success_status", status.success_status);
      if (typeof status.progress_measure === "number") {
        this.set("cmi.progress_measure", status.progress_measure);
      }
    } else {
      this.set("cmi.core.lesson_status", status.lesson_status);
    }
    if (status.score_raw !== null && status.score_raw !== undefined) {
      var prefix = this.is2004 ? "cmi.score." : "cmi.core.score.";
      this.set(prefix + "min", 0);
      this.set(prefix + "max", 100);
      this.set(prefix + "raw", status.score_raw);
      if (this.is2004) { this.set("cmi.score.scaled", status.score_raw / 100); }
    }
    this.commit();
  };
  Scorm.prototype.finish = function (completed) {
    if (!this.active) { return; }
    this.set(this.is2004 ? "cmi.session_time" : "cmi.core.session_time", this.sessionTime());
    this.set(this.is2004 ? "cmi.exit" : "cmi.core.exit", completed ? (this.is2004 ? "normal" : "") : "suspend");
    this.commit();
    this.call("LMSFinish", "Terminate", [""]);
    this.active = false;
  };

  global.KratomScorm = Scorm;
}(window));
