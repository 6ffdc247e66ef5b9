"""Four independent tasks of 60 s each: API requests per task when tasks last a minute."""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

with DAG(
    dag_id="long_tasks",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=1),
        "namespace": "data-jobs",
        "image": "sandbox/sleep:60",
        "get_logs": True,
        "on_finish_action": "delete_pod",
        "config_file": os.environ["POD_DAG_BENCH_KUBECONFIG"],
        "in_cluster": False,
    },
) as dag:
    for i in range(4):
        KubernetesPodOperator(task_id=f"long_{i}", name=f"long-{i}")
