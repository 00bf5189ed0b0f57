"""Where events come from: warehouses (DuckDB, Snowflake), events files, the demo data, and the build that turns them into a training set."""
