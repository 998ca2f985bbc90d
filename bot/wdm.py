"""Discovery and device hygiene for the websocket intake: the U2C catalog and our WDM device.

The flow every working Webex client follows (docs/websocket.md): the catalog names the
region's device service (`serviceLinks.wdm`; never a hard-coded `wdm-a`, whose sockets
authorize and never deliver for other regions), a device registered there carries the socket
URL. The user's own desktop, phone and browser are devices of the same user, so we only ever
touch devices named exactly like ours (`tokenbot-<instance group>`):

- one device per identity and group, found again by name after a restart (no leak per start);
- refreshed with PUT; a 404 means it is gone: register anew;
- on "excessive device registrations" only our own (duplicate) devices go, oldest first; if
  none of them is ours we stop and say so rather than delete the user's devices;
- unregistered (DELETE) on a clean shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tokenbot.core.errors import TokenbotError

__all__ = ["DeviceError", "DeviceManager", "ServiceCatalog", "device_name"]

log = logging.getLogger(__name__)

EXCESSIVE = "excessive device registrations"


class DeviceError(TokenbotError):
    """Discovery or registration failed; `permanent` errors need a person to act."""

    code = "websocket_device"

    def __init__(self, message: str, *, status: int = 0, permanent: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = permanent


def device_name(group: str) -> str:
    """Return the name of our device for an instance group."""
    return f"tokenbot-{group}"


@dataclass(frozen=True, slots=True)
class ServiceCatalog:
    """What U2C told us: service links and the cluster id of each host."""

    links: dict[str, str]
    host_clusters: dict[str, str]

    @property
    def wdm(self) -> str:
        """Return the device service's base URL."""
        return self.links["wdm"].rstrip("/")


class DeviceManager:
    """Find, register, refresh and unregister our device on the bot identity's token.

    Args:
        u2c_url: The catalog's base URL (`webex.u2c_url`).
        token: Returns the current access token.
        token_after_401: Returns a token after one refresh, given the refused one.
        group: `bot.instance_group`.
        timeout: Seconds per HTTP request.
        proxy_url: An http(s) proxy, or None.
    """

    def __init__(
        self,
        *,
        u2c_url: str,
        token: Callable[[], str],
        token_after_401: Callable[[str], str],
        group: str,
        timeout: float = 15.0,
        proxy_url: str | None = None,
        version: str = "1.0",
    ) -> None:
        self.u2c_url = u2c_url.rstrip("/")
        self.name = device_name(group)
        self._token = token
        self._after_401 = token_after_401
        self._timeout = timeout
        self._version = version
        self._http = requests.Session()
        if proxy_url:
            self._http.trust_env = False
            self._http.proxies.update({"http": proxy_url, "https": proxy_url})
        self.catalog: ServiceCatalog | None = None
        self.device: dict[str, Any] | None = None
        self.calls = 0

    # -- discovery ---------------------------------------------------------------------------

    def discover(self) -> ServiceCatalog:
        """Read the hostmap catalog (once per manager; again after `forget_catalog`)."""
        if self.catalog is not None:
            return self.catalog
        response = self._request("GET", f"{self.u2c_url}/catalog", params={"format": "hostmap"})
        body = _json(response)
        links = body.get("serviceLinks") if isinstance(body, dict) else None
        if not isinstance(links, dict) or not isinstance(links.get("wdm"), str):
            raise DeviceError("the Webex service catalog names no device service (wdm)")
        clusters: dict[str, str] = {}
        for host, entries in (body.get("hostCatalog") or {}).items():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    clusters.setdefault(str(host), entry["id"])
        self.catalog = ServiceCatalog({k: str(v) for k, v in links.items()}, clusters)
        return self.catalog

    def forget_catalog(self) -> None:
        """Read the catalog again next time (after the device service moved)."""
        self.catalog = None

    # -- the device --------------------------------------------------------------------------

    def ensure(self) -> dict[str, Any]:
        """Return our device: the known one refreshed, one found by name, or a new one."""
        wdm = self.discover().wdm
        if self.device is not None:
            refreshed = self._refresh(self.device)
            if refreshed is not None:
                return refreshed
        mine = self.ours()
        if mine:
            keep, extra = mine[-1], mine[:-1]
            for device in extra:  # duplicates of ours (a crash mid-registration): tidy up
                self._delete(device)
            refreshed = self._refresh(keep)
            if refreshed is not None:
                return refreshed
        return self._register(wdm)

    def ours(self) -> list[dict[str, Any]]:
        """Return the user's devices named like ours, oldest first."""
        wdm = self.discover().wdm
        body = _json(self._request("GET", f"{wdm}/devices"))
        devices = body.get("devices") if isinstance(body, dict) else None
        found = [d for d in devices or [] if isinstance(d, dict) and d.get("name") == self.name]
        return sorted(found, key=lambda d: str(d.get("creationTime") or ""))

    def unregister(self) -> bool:
        """Delete our device (clean shutdown); return whether one was deleted."""
        if self.device is None:
            return False
        deleted = self._delete(self.device)
        self.device = None
        return deleted

    def forget(self) -> None:
        """Drop the known device (its socket URL answered 404: register again)."""
        self.device = None

    def _register(self, wdm: str) -> dict[str, Any]:
        body = {
            "deviceName": self.name,
            "name": self.name,
            "deviceType": "DESKTOP",
            "localizedModel": "tokenbot",
            "model": "tokenbot",
            "systemName": "tokenbot",
            "systemVersion": self._version,
        }
        for attempt in range(2):
            response = self._request("POST", f"{wdm}/devices", json=body, allow=(400, 403))
            if response.status_code == 200:
                self.device = _json(response)
                log.info("websocket: registered device %s", self.name)
                return self.device
            message = _message(response)
            if response.status_code == 403:
                raise DeviceError(
                    f"Webex refused the device registration: {message} (the websocket needs "
                    "spark:all; add it to webex.scopes and the integration, then log in again)",
                    status=403,
                    permanent=True,
                )
            if EXCESSIVE not in message.lower() or attempt:
                raise DeviceError(f"Webex refused the device registration: {message}", status=400)
            mine = self.ours()
            if not mine:
                raise DeviceError(
                    "Webex says the user has too many device registrations and none of them is "
                    "tokenbot's; tokenbot never deletes the user's own devices: sign out of "
                    "unused Webex apps, then restart",
                    status=400,
                    permanent=True,
                )
            for device in mine:  # ours only, oldest first
                self._delete(device)
        raise DeviceError("device registration failed")  # unreachable: the loop raises

    def _refresh(self, device: dict[str, Any]) -> dict[str, Any] | None:
        url = str(device.get("url") or "")
        if not url:
            return None
        body = {k: device.get(k) for k in ("name", "deviceType", "model", "systemName")}
        response = self._request("PUT", url, json=body, allow=(404,))
        if response.status_code == 404:
            log.info("websocket: our device is gone; registering again")
            self.device = None
            return None
        self.device = _json(response)
        return self.device

    def _delete(self, device: dict[str, Any]) -> bool:
        url = str(device.get("url") or "")
        if not url or device.get("name") != self.name:
            return False  # never a device that is not ours
        response = self._request("DELETE", url, allow=(404,))
        return response.status_code != 404

    def _request(
        self, method: str, url: str, *, allow: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        token = self._token()
        for attempt in range(2):
            try:
                self.calls += 1
                response = self._http.request(
                    method,
                    url,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self._timeout,
                    allow_redirects=False,
                    **kwargs,
                )
            except requests.RequestException as exc:
                raise DeviceError(f"Webex did not answer: {type(exc).__name__}") from exc
            if response.status_code == 401 and not attempt:
                token = self._after_401(token)
                continue
            if response.status_code < 300 or response.status_code in allow:
                return response
            raise DeviceError(
                f"{method} {_path(url)} answered {response.status_code}: {_message(response)}",
                status=response.status_code,
            )
        raise DeviceError("Webex refused the refreshed token too", status=401)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise DeviceError(f"Webex answered {response.status_code} without JSON") from None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("message") if isinstance(body, dict) else body)[:200]


def _path(url: str) -> str:
    # Device URLs carry no secret, but keep logs short: the path names the call.
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
