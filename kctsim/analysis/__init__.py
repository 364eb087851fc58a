"""From stored runs to findings: the propositions' verdicts, their robustness,
and the calibration of the global cost scale."""
