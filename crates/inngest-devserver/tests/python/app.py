"""An app on the official Inngest Python SDK (Flask), driven by our dev server in
python_sdk.rs. It exercises what the Python SDK does differently from the JS one: a Sleep op
named with an ISO timestamp, final errors sent as 500 with x-inngest-no-retry, StepError
without the header, snake_case sync bodies.

Run: INNGEST_DEV=<dev server url> PORT=<port> python3 app.py
PORT=0 (the default) binds a free port. Once listening, the app prints one line,
`listening on 127.0.0.1:<port>`, with the port it bound.
"""
import datetime
import os

import flask
import inngest
import inngest.flask

client = inngest.Inngest(app_id="py-app", is_production=False)


@client.create_function(fn_id="greet", trigger=inngest.TriggerEvent(event="py/greet"))
def greet(ctx: inngest.ContextSync) -> dict:
    first = ctx.step.run("first", lambda: "hello " + ctx.event.data["id"])
    ctx.step.sleep("nap", datetime.timedelta(seconds=10))
    got = ctx.step.wait_for_event(
        "wait-go",
        event="py/go",
        if_exp="event.data.id == async.data.id",
        timeout=datetime.timedelta(hours=1),
    )
    return {"first": first, "go": got.data["n"] if got else None}


@client.create_function(fn_id="flaky", retries=2, trigger=inngest.TriggerEvent(event="py/flaky"))
def flaky(ctx: inngest.ContextSync) -> str:
    def attempt() -> str:
        if ctx.attempt == 0:
            raise Exception("first attempt fails")
        return f"ok on attempt {ctx.attempt}"

    return ctx.step.run("try", attempt)


@client.create_function(fn_id="doomed", trigger=inngest.TriggerEvent(event="py/doomed"))
def doomed(ctx: inngest.ContextSync) -> None:
    raise inngest.NonRetriableError("no way")


app = flask.Flask(__name__)
inngest.flask.serve(app, client, [greet, flaky, doomed])

if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", int(os.environ.get("PORT", "0")), app, threaded=True)
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
