"""A chain of 50 one-second tasks, each needing the one before."""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models.baseoperator import chain
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
    dag_id="chain_50",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args=default_args,
) as dag:
    chain(*[KubernetesPodOperator(task_id=f"step_{i:02d}", name=f"step-{i:02d}") for i in range(1, 51)])
