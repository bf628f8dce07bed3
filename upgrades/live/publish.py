from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def dag_group(dag_id):
    return f"dag-{dag_id}"


def publish_dag_event(message):
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(dag_group(message["dag_id"]), {**message, "type": "dag.event"})
