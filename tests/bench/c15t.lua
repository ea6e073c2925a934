-- wrk: c15t's own consent write (POST /subjects), one new visitor per
-- request like the POST /consent scenario. Subject ids must match
-- ^sub_[base58]+$; the first character after sub_ is the wrk thread.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
local threads, n = 0, 0
local function b58(x)
	local s = ""
	repeat
		local d = x % 58
		s = B58:sub(d + 1, d + 1) .. s
		x = math.floor(x / 58)
	until x == 0
	return s
end
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function request()
	n = n + 1
	return wrk.format(nil, nil, nil, string.format(
		'{"type":"cookie_banner","subjectId":"sub_%s%s","domain":"shop.example",' ..
		'"preferences":{"necessary":true,"measurement":true,"marketing":false},"givenAt":%d000}',
		B58:sub(tid, tid), b58(n), os.time()))
end
