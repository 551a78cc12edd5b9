"""Writes a small, valid course folder for loader tests (placeholder text only)."""

from pathlib import Path

COURSE_MD = """---
title: "Test course"
slug: test-course
summary: "Placeholder summary."
estimated_minutes: 30
target_audience: "Placeholder audience."
release_date: 2026-01-01
review_date: 2026-01-01
expiry_date: 2028-01-01
commercial_support: "None."
accreditation_notice: "Not accredited."
hardware_software: "A browser."
privacy: "Placeholder privacy."
faculty:
  - name: "Placeholder Person"
    role: faculty
    credentials: ""
    disclosure: "None."
---

Placeholder description.
"""

LESSON_ONE = """---
title: "First lesson"
slug: first
order: 1
estimated_minutes: 10
last_reviewed: {reviewed}
objectives:
  - id: L1.1
    text: "Describe the first placeholder topic."
  - id: L1.2
    text: "List the second placeholder topic."
references:
  - key: alpha
    citation: "Author A. Placeholder title. J Placeholder. 2020;1:1-2."
    pmid: "12345678"
  - key: beta
    citation: "Author B. Another title. J Placeholder. 2021;2:3-4."
    doi: "10.1000/xyz123"
---

## Background

A placeholder statement.[^alpha] Another one.[^beta] Again.[^alpha]

!!! pearl "Clinical pearl"
    A placeholder pearl.

## Details

See [the second lesson](lesson:second#more) and the [explorer](interactions:).

![A placeholder diagram](figures/diagram.svg)

*Figure 1.* A placeholder description.

[[interaction-table]]
"""

LESSON_TWO = """---
title: "Second lesson"
slug: second
order: 2
estimated_minutes: 12
last_reviewed: {reviewed}
objectives:
  - id: L2.1
    text: "Explain the third placeholder topic."
references:
  - key: gamma
    citation: "Author C. Third title. Agency. 2022."
    url: "https://www.example.gov/page"
---

## More

Placeholder text.[^gamma] Back to [the first](lesson:first).
"""

ITEMS = """- key: q-01
  type: single
  pools: [posttest]
  objective: L1.1
  section: first#background
  difficulty: easy
  stem: "Placeholder stem?"
  options:
    - text: "Right"
      correct: true
      rationale: "Because placeholder."
    - text: "Wrong one"
      correct: false
      rationale: "Not this."
    - text: "Wrong two"
      correct: false
      rationale: "Nor this."
  references: [alpha]
- key: q-02
  type: truefalse
  pools: [check]
  objective: L1.2
  section: first#details
  difficulty: medium
  myth: m1
  interaction: row-one
  stem: "A placeholder claim is true."
  options:
    - text: "True"
      correct: false
      rationale: "It is not."
    - text: "False"
      correct: true
      rationale: "Correct."
  references: [beta]
"""

INTERACTIONS = """- id: row-one
  drug: "Placeholder drug"
  drug_class: "Placeholder class"
  mechanism: "Placeholder mechanism."
  effect: "Placeholder effect."
  severity: moderate
  evidence: limited
  management: "Placeholder management."
  references:
    - key: delta
      citation: "Author D. Title. 2019."
      pmid: "111"
"""

MYTHS = """- id: m1
  claim: "A placeholder claim."
  verdict: "A placeholder verdict."
  lesson: second
"""

SVG = """<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="t d" viewBox="0 0 10 10"><title id="t">T</title><desc id="d">D</desc></svg>"""


def write_course(root: Path, reviewed: str = "2026-11-01") -> Path:
    """Create root/test-course/ and return it; `root` plays curriculum/content/."""
    course = root / "test-course"
    (course / "lessons").mkdir(parents=True)
    (course / "items").mkdir()
    (course / "figures").mkdir()
    (course / "course.md").write_text(COURSE_MD)
    (course / "lessons" / "01-first.md").write_text(LESSON_ONE.format(reviewed=reviewed))
    (course / "lessons" / "02-second.md").write_text(LESSON_TWO.format(reviewed=reviewed))
    (course / "items" / "01-first.yaml").write_text(ITEMS)
    (course / "interactions.yaml").write_text(INTERACTIONS)
    (course / "myths.yaml").write_text(MYTHS)
    (course / "figures" / "diagram.svg").write_text(SVG)
    (root / "banned_phrases.txt").write_text("# test list\ngame-changer\nmiracle cure\n")
    return course
