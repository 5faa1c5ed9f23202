"""The HTTP request parser: webargs' aiohttp parser, without its coercions.

DEEPaaS 2.6 reads every request through webargs 5's module-level parser,
which wraps a lone JSON string into a list for list fields, drops keys the
model does not declare, and lets a deeply nested JSON body raise
`RecursionError` (a 500). `StrictParser` refuses all three with 4xx answers,
so HTTP accepts exactly what the task schemas accept in Python; `install()`
makes it the parser DEEPaaS uses (the adapter's entry point calls it, before
DEEPaaS builds its routes).

Example:
>>> from kerasprop.serving.parser import StrictParser, install
>>> isinstance(install(), StrictParser)
True
"""

import json

import marshmallow
from webargs import aiohttpparser, core

_JSON_KEY = "kerasprop.json_body"


class StrictParser(aiohttpparser.AIOHTTPParser):
    """Parses request arguments as they were sent: no list wrapping, no unknown keys, bounded JSON."""

    async def parse_json(self, req, name, field):
        data = await self._json(req)
        return data.get(name, core.missing) if isinstance(data, dict) else core.missing

    async def _json(self, req):
        """The JSON body, read once per request and kept on it (webargs' own cache is shared by concurrent requests)."""
        if _JSON_KEY not in req:
            req[_JSON_KEY] = await self._read_json(req)
        return req[_JSON_KEY]

    async def _read_json(self, req):
        if not (req.body_exists and aiohttpparser.is_json_request(req)):
            return core.missing
        try:
            text = await req.text()
            if not text:
                return core.missing
            return json.loads(text)
        except RecursionError:
            raise _bad_request("The JSON body is nested too deeply.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _bad_request(f"The body is not valid JSON ({error}).") from None

    async def _parse_request(self, schema, req, locations):
        parsed = await super()._parse_request(schema, req, locations)
        declared = {field.data_key or name for name, field in schema.fields.items()}
        unknown = sorted(set(await self._sent_keys(req, locations)) - declared)
        if unknown:
            raise marshmallow.ValidationError(
                {key: [f"Unknown field; this endpoint takes {sorted(declared)}."] for key in unknown}
            )
        return parsed

    async def _sent_keys(self, req, locations):
        keys = []
        if "querystring" in locations:
            keys += list(req.query)
        if "form" in locations and req.body_exists and not aiohttpparser.is_json_request(req):
            keys += list(await req.post())
        if "json" in locations:
            data = await self._json(req)
            keys += list(data) if isinstance(data, dict) else []
        return keys


def _bad_request(message):
    from aiohttp import web

    return web.HTTPBadRequest(text=json.dumps({"json": [message]}), content_type="application/json")


def install():
    """Makes `StrictParser` the parser DEEPaaS reads requests with; returns it."""
    if not isinstance(aiohttpparser.parser, StrictParser):
        aiohttpparser.parser = StrictParser()
    return aiohttpparser.parser
