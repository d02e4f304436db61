"""jupyter_server's gateway client, made usable from nbclient (checked with jupyter_server 2.21).

Kernels on a Jupyter Kernel Gateway or Enterprise Gateway are driven through
``GatewayKernelManager``/``GatewayKernelClient``. Used outside jupyter_server they
need these fixes, each in the smallest subclass that makes it:

1. the websocket is opened without the gateway's auth header (a gateway with a
   token answers 401): the headers of the REST calls are sent;
2. ``is_alive`` ends in an assertion (no provisioner): the manager asks the
   gateway (GET /api/kernels/<id>), the client watches its websocket, so a cell
   timeout is a CellTimeoutError and a lost gateway a DeadKernelError;
3. the channel queues busy-wait and take a whole core while a cell runs: they poll
   with a short back-off;
4. ``stop_channels`` after a failed connect raises and hides the real error;
5. the kernel name is ignored (always "python3"): the manager's is used, so an
   Enterprise Gateway kernelspec such as "python_kubernetes" works;
6. the environment sent is every ``KERNEL_*`` variable of this process: it is built
   from the environment the pipeline gives kernels (credentials removed);
7. the websocket keeps the launch timeout as its read timeout, so a quiet cell
   loses the connection: it is cleared after the handshake;
8. a kernel that dies is restarted by the gateway without telling nbclient, which
   then waits forever: iopub "restarting"/"dead" marks the kernel as lost.
"""

from __future__ import annotations

import asyncio
from queue import Empty
from threading import Thread
from time import monotonic

import websocket
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_core.utils import ensure_async
from jupyter_server.gateway.gateway_client import GatewayClient, gateway_request
from jupyter_server.gateway.managers import ChannelQueue, GatewayKernelClient, GatewayKernelManager, HBChannelQueue
from jupyter_server.utils import url_path_join
from nbclient.exceptions import DeadKernelError
from tornado.escape import json_decode, json_encode, url_escape

POLL = 0.005  # seconds: the longest a queue waits between looks


class _Polling:
    """A channel queue that polls with back-off (3), notices a lost kernel (8) or websocket (2)."""

    lost: str | None = None

    def put_nowait(self, msg):
        state = msg.get("content", {}).get("execution_state") if msg.get("msg_type") == "status" else None
        if state in ("restarting", "dead"):
            self.lost = state
        return super().put_nowait(msg)

    async def _async_get(self, timeout=None):
        deadline = monotonic() + (float("inf") if timeout is None else timeout)
        delay = 0.0
        while True:
            try:
                return self.get(block=False)
            except Empty:
                if self.response_router_finished:
                    raise DeadKernelError("lost the websocket connection to the gateway") from None
                if monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(POLL, delay * 2 or 0.0001)


class PollingQueue(_Polling, ChannelQueue):
    pass


class PollingHeartbeat(_Polling, HBChannelQueue):
    pass


def _channel(name: str, queue: type) -> property:
    attribute = f"_{name}_channel"

    def get(self):
        if getattr(self, attribute) is None:
            if self.channel_socket is None:
                raise RuntimeError("the gateway websocket is not connected")
            setattr(self, attribute, queue(name, self.channel_socket, self.log))
            self._channel_queues[name] = getattr(self, attribute)
        return getattr(self, attribute)

    return property(get)


class KernelClient(GatewayKernelClient):
    shell_channel = _channel("shell", PollingQueue)
    iopub_channel = _channel("iopub", PollingQueue)
    stdin_channel = _channel("stdin", PollingQueue)
    control_channel = _channel("control", PollingQueue)
    hb_channel = _channel("hb", PollingHeartbeat)

    async def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True):
        gateway = GatewayClient.instance()
        url = url_path_join(gateway.ws_url or "", gateway.kernels_endpoint, url_escape(self.kernel_id), "channels")
        ssl = {k: v for k, v in {"ca_certs": gateway.ca_certs, "certfile": gateway.client_cert,
                                 "keyfile": gateway.client_key}.items() if v}
        self.channel_socket = await asyncio.to_thread(
            websocket.create_connection, url, timeout=gateway.KERNEL_LAUNCH_TIMEOUT, enable_multithread=True,
            header=dict(gateway.load_connection_args().get("headers", {})), sslopt=ssl)  # (1), (6: not blocking)
        self.channel_socket.settimeout(None)  # (7)
        await ensure_async(AsyncKernelClient.start_channels(self, shell=shell, iopub=iopub, stdin=stdin, hb=hb,
                                                            control=control))
        self.response_router = Thread(target=self._route_responses, name=f"gateway-{self.kernel_id[:8]}", daemon=True)
        self.response_router.start()

    def stop_channels(self):
        if self.channel_socket is None:  # (4)
            self._channels_stopped = True
            return
        super().stop_channels()

    async def _async_is_alive(self) -> bool:  # (2)
        if self.response_router is not None and not self.response_router.is_alive():
            return False
        if self._iopub_channel is not None and self._iopub_channel.lost:
            return False
        return await self.parent._async_is_alive()

    is_alive = _async_is_alive  # AsyncKernelClient binds is_alive at class level


class KernelManager(GatewayKernelManager):
    client_class = "pipeline.run.gateway_client.KernelClient"
    client_factory = KernelClient
    #: the environment the kernel gets (set by the session: credentials already removed)
    environment: dict[str, str] = {}

    async def start_kernel(self, **kwargs):  # (5), (6)
        env = {k: v for k, v in self.environment.items()
               if k.startswith("KERNEL_") or k in GatewayClient.instance().allowed_envs.split(",")}
        body = json_encode({"name": self.kernel_name or kwargs.get("kernel_name", "python3"), "env": env})
        response = await gateway_request(self.kernels_url, method="POST", headers={"Content-Type": "application/json"},
                                         body=body)
        self.kernel = json_decode(response.body)
        self.kernel_id = self.kernel["id"]
        self.kernel_url = url_path_join(self.kernels_url, url_escape(str(self.kernel_id)))

    async def _async_is_alive(self) -> bool:  # (2)
        if not self.has_kernel:
            return False
        try:
            model = await self.refresh_model()
        except Exception:  # the gateway cannot answer: the kernel is gone for us (many error types)
            return False
        return model is not None and model.get("execution_state") != "dead"

    async def is_alive(self) -> bool:
        return await self._async_is_alive()


def connect(url: str) -> GatewayClient:
    """The gateway client for *url*; the token, timeouts and TLS settings come from the
    JUPYTER_GATEWAY_* environment variables, as for Jupyter itself."""
    GatewayClient.clear_instance()  # instance(...) ignores its arguments once one exists
    return GatewayClient.instance(url=url)
