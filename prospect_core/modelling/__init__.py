"""The model and its evaluation: the pipeline and its fit, metrics, explanations, scoring and figures."""
