"""LTI 1.3 tool (issue #7, section 5): platforms registered in the admin launch
the course, a lesson or a quiz; instructors place content by deep linking; the
post-test score goes back to the platform's gradebook (AGS) through the outbox."""
