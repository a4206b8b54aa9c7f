"""Sensors and schedules: the outside world changing (a dataset's source, a model's weights) triggers runs;
declarative automation carries the change through predictions, the dbt warehouse and the reports.

- :mod:`sensors.changes`: ``dataset_change_sensor`` and ``model_change_sensor`` (cursors of fingerprints,
  dynamic partitions, run keys);
- :mod:`sensors.automation`: the automation conditions and ``benchtrust_automation_sensor``;
- :mod:`sensors.corpora`: ``corpus_registry_sensor`` (a ``corpora`` partition per registered corpus, RUNNING);
- :mod:`sensors.schedules`: ``nightly_default_refresh`` and ``weekly_full_refresh`` (STOPPED by default).
"""

from sensors.automation import automation_sensor
from sensors.changes import dataset_change_sensor, model_change_sensor
from sensors.corpora import corpus_registry_sensor
from sensors.schedules import nightly_default_refresh, weekly_full_refresh

sensors: list = [dataset_change_sensor, model_change_sensor, automation_sensor, corpus_registry_sensor]
schedules: list = [nightly_default_refresh, weekly_full_refresh]
