"""examples/fan-out's shape: plan, then 32 shards of one second each, at most 8 at a time, then merge."""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

default_args = {
    "retries": 2,
    "retry_delay": timedelta(seconds=1),
    "namespace": "data-jobs",
    "image": "sandbox/sleep:1",
    "get_logs": True,
    "on_finish_action": "delete_pod",
    "config_file": os.environ["POD_DAG_BENCH_KUBECONFIG"],
    "in_cluster": False,
}

with DAG(
    dag_id="fan_out",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_tasks=8,
    default_args=default_args,
) as dag:
    plan = KubernetesPodOperator(task_id="plan", name="plan")
    merge = KubernetesPodOperator(task_id="merge", name="merge")
    for i in range(32):
        plan >> KubernetesPodOperator(task_id=f"shard_{i:02d}", name=f"shard-{i:02d}") >> merge
