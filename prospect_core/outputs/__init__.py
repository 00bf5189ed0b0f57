"""What leaves the studio: the artifact and its signed card, the Signals definitions, the export and the scoring-service bundle."""
