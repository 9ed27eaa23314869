"""The example batch files in examples/ need the UI-format integration of the batch run;
until they move to batches/ they are not collected."""

collect_ignore = ["examples"]
