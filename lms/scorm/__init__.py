"""SCORM 1.2 and 2004 export of a course (issue #7, section 6): connected and self-contained packages."""
