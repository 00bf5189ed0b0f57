"""What a training set is: the spec, the attribute registry, its features, the SQL that computes them, and the frame it yields."""
