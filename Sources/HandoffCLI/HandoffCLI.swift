// The handoff command line.
