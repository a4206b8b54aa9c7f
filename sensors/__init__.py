"""Sensors and schedules: the outside world changing (a dataset file, a model's weights) triggers runs.

Nothing here yet: change detection and schedules arrive with the versioned-reports work (issue 7).
"""

sensors: list = []
schedules: list = []
