"""The validate stage's building blocks: read raw tables as text, refuse identifiers, check
every row, quarantine what fails, and report. `pipeline/validate.py` wires them to files."""
