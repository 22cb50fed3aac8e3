-- POST /queues with a test-flow workflow that ends at once (the request, not the work, is measured).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"template":"test-flow","params":{"seconds":"0.05"}}'
