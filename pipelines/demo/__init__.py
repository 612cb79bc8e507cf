"""`adoption demo`: a seeded, realistic input folder with planted truth (for tests and
`adoption evaluate` only)."""
