"""Input files into typed `landing` tables: find the items, read them with their row numbers,
check every row, and quarantine what fails with its reason."""
