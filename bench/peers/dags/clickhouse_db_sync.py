"""The seed's nightly ClickHouse copy, as its Airflow users wrote it (README, "Coming from Airflow"):
start >> drop >> create >> migrate >> end, KubernetesPodOperator against the cluster's kubeconfig.
The benchmark triggers it (schedule=None) and sets retry_delay to 1 s, as on the action's side."""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models.param import Param
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from airflow.providers.standard.operators.empty import EmptyOperator
from kubernetes.client import models as k8s

KUBECONFIG = os.environ["POD_DAG_BENCH_KUBECONFIG"]

locale_nodes = k8s.V1Affinity(
    node_affinity=k8s.V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
            node_selector_terms=[
                k8s.V1NodeSelectorTerm(
                    match_expressions=[
                        k8s.V1NodeSelectorRequirement(key="org", operator="In", values=["locale"])
                    ]
                )
            ]
        )
    )
)

clickhouse_password = Secret(
    deploy_type="env", deploy_target="CLICKHOUSE_PASSWORD", secret="clickhouse-creds", key="password"
)

default_args = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=1),
    "execution_timeout": timedelta(hours=1),
    "namespace": "data-jobs",
    "image": "clickhouse/clickhouse-server:24.8",
    "affinity": locale_nodes,
    "secrets": [clickhouse_password],
    "labels": {"team": "data"},
    "get_logs": True,
    "on_finish_action": "delete_pod",
    "reattach_on_restart": True,
    "startup_timeout_seconds": 300,
    "config_file": KUBECONFIG,
    "in_cluster": False,
}

with DAG(
    dag_id="clickhouse_db_sync",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(hours=6),
    default_args=default_args,
    params={
        "source_db": Param("clickhouse_source_db", type="string"),
        "destination_db": Param("clickhouse_destination_db", type="string"),
        "destination_host": Param(type="string", description="Host name of the destination ClickHouse server."),
    },
) as dag:
    start = EmptyOperator(task_id="start")

    drop_destination_db = KubernetesPodOperator(
        task_id="drop_destination_db",
        name="drop-destination-db",
        cmds=["clickhouse-client"],
        arguments=["--host", "{{ params.destination_host }}",
                   "--query", "DROP DATABASE IF EXISTS {{ params.destination_db }}"],
    )

    create_db = KubernetesPodOperator(
        task_id="create_db",
        name="create-db",
        cmds=["clickhouse-client"],
        arguments=["--host", "{{ params.destination_host }}",
                   "--query", "CREATE DATABASE {{ params.destination_db }}"],
    )

    migrate_data = KubernetesPodOperator(
        task_id="migrate_data",
        name="migrate-data",
        image="registry.example.com/internal-scripts:2024-01",
        cmds=["python", "clickhouse/migration.py"],
        arguments=["--source-db", "{{ params.source_db }}",
                   "--destination-db", "{{ params.destination_db }}",
                   "--destination-host", "{{ params.destination_host }}"],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "8Gi"}
        ),
        execution_timeout=timedelta(hours=3),
    )

    end = EmptyOperator(task_id="end")

    start >> drop_destination_db >> create_db >> migrate_data >> end
