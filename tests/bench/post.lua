-- wrk: POST a JSON body (the path and body come from the environment)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("CG_BENCH_BODY")
