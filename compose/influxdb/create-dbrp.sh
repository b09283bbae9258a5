#!/bin/sh
# Runs once, when the influxdb image sets up a new data volume: maps the InfluxQL database of the
# bucket's name (retention policy autogen) to the bucket, which the Grafana dashboards and alert
# rules query (InfluxQL on InfluxDB 2.x needs this DBRP mapping).
set -eu
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default
