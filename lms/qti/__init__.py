"""QTI 2.1 and 3.0 export of a course's question bank (issue #7, sections 7 and 8)."""
