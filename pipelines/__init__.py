"""Assembly: resources, partitions, the dbt project and translator, jobs, and the Definitions object."""
