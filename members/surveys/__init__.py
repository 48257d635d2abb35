"""Council surveys: questionnaires in versions, waves sent to councils through signed links,
one submitted response per council per wave, and the directors' results (issue 17)."""
