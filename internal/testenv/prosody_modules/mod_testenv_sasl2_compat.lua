-- Test-only glue, loaded only by internal/testenv's reference Prosody: lets
-- Debian's prosody-modules SASL2 stack (2023-02 snapshot, written against
-- Prosody trunk) run on Debian's Prosody 0.12.3. Not for production.
--
-- 1. mod_sasl2 calls conn:ssl_info() on every features offer, and
--    conn:ssl_peerfinished() for tls-unique channel binding; 0.12's
--    net.server_epoll has neither.
-- 2. mod_sasl2_fast reads the stream header's from= (the user FAST is
--    offered to) from the stream-features event, which 0.12's mod_c2s fires
--    without the header.
-- 3. mod_sasl2_fast formats token expiry times from util.time.now(), which
--    are fractional; 0.12's util.datetime passes them to Lua 5.4's os.date,
--    which wants integers.
-- 4. mod_sasl2_fast calls stanza:get_child_attr(), newer than 0.12.
-- 5. After a Bind2 login 0.12's mod_saslauth still offers <bind/> and
--    <session/> (newer Prosody offers them only to unbound sessions): a client
--    that reads them binds again and gets an error.
-- 6. No XEP-0440 <sasl-channel-binding/> in the features: go-xmpp takes
--    no SASL2 SCRAM-*-PLUS without it.
-- 7. mod_sasl2_sm calls mod_smacks.do_enable / do_resume, which return the
--    result and let SASL2 send it inside <success/>; 0.12's mod_smacks only
--    has handle_enable / handle_resume, which send <enabled/>, <resumed/>
--    and the queued stanzas themselves. They are run here with the
--    connection's output held back, then released after <success/>.

local errors = require "util.error";
local filters = require "util.filters";
local jid = require "util.jid";
local st = require "util.stanza";

-- util.xmppstream hands a session's stream_attrs the client's from= when it
-- answers the header; every new session gets one that keeps it.
local function keep_stream_from(session)
	if session.type == "c2s_unauthed" and not session.stream_attrs then
		session.stream_attrs = function(s, _, client_from) s.testenv_stream_from = client_from; end;
	end
end
filters.add_filter_hook(keep_stream_from);

local stanza_mt = st.stanza_mt;
if not stanza_mt.get_child_attr then
	function stanza_mt:get_child_attr(name, xmlns, attr)
		local tag = self:get_child(name, xmlns);
		return tag and tag.attr[attr];
	end
end

module:hook("stream-features", function(event)
	if not event.origin.full_jid then return; end
	event.features:maptags(function(tag)
		local ns = tag.attr.xmlns;
		if ns == "urn:ietf:params:xml:ns:xmpp-bind" or ns == "urn:ietf:params:xml:ns:xmpp-session" then
			return nil;
		end
		return tag;
	end);
end, -10);

-- XEP-0440: the channel binding types SCRAM-*-PLUS can use, which a SASL2
-- client (go-xmpp) needs to see before it picks -PLUS; newer Prosody
-- advertises them, 0.12 does not.
module:hook("stream-features", function(event)
	local origin = event.origin;
	local cb = origin.type == "c2s_unauthed" and origin.sasl_handler and origin.sasl_handler.profile.cb;
	if not cb then return; end
	local types = st.stanza("sasl-channel-binding", { xmlns = "urn:xmpp:sasl-cb:0" });
	for name in pairs(cb) do
		types:tag("channel-binding", { type = name }):up();
	end
	if types.tags[1] then event.features:add_child(types); end
end, -20);

local datetime = require "util.datetime";
local format_datetime = datetime.datetime;
datetime.datetime = function(t) return format_datetime(t and math.floor(t)); end;

function module.unload()
	filters.remove_filter_hook(keep_stream_from);
	datetime.datetime = format_datetime;
end

-- Above mod_sasl2's own stream-features hook (priority 1), so all is in
-- place when it runs.
module:hook("stream-features", function(event)
	event.stream = event.stream or { from = event.origin.testenv_stream_from };
	local conn = event.origin.conn;
	if conn and not conn.ssl_info then
		-- As newer Prosody's server_epoll does: LuaSec's info() of the TLS socket.
		conn.ssl_info = function(self)
			local sock = self:socket();
			if not (sock and sock.info) then return nil, "not-implemented"; end
			return sock:info();
		end;
		-- tls-unique for SCRAM-*-PLUS and HT-*-UNIQ on TLS 1.2 (0.12's SCRAM
		-- knows no tls-exporter).
		conn.ssl_peerfinished = function(self)
			local sock = self:socket();
			if not (sock and sock.getpeerfinished) then return nil, "not-implemented"; end
			return sock:getpeerfinished();
		end;
	end
end, 10);

local mod_smacks = module:depends("smacks");
local registry = module:shared("/*/smacks/resumption-tokens");

-- held runs f with everything session writes kept back, puts the real
-- rawsend back on every session f handed the holding one to, and returns
-- what was kept and the real rawsend to release it with.
local function held(session, f, others)
	local rawsend = session.rawsend;
	local kept = {};
	local hold = function(t) kept[#kept + 1] = t; return true; end;
	session.rawsend = hold;
	f();
	session.rawsend = rawsend;
	for _, s in ipairs(others or {}) do
		if s.rawsend == hold then s.rawsend = rawsend; end
	end
	return kept, rawsend;
end

local function failure(answer, fallback)
	local condition = answer and answer.tags[1] and answer.tags[1].name or fallback;
	return errors.new({ type = "cancel", condition = condition }, { h = answer and tonumber(answer.attr.h) });
end

if not rawget(mod_smacks, "do_enable") then
	function mod_smacks.do_enable(session, stanza)
		local kept = held(session, function()
			mod_smacks.handle_enable(session, stanza, stanza.attr.xmlns);
		end);
		local answer = kept[1];
		if not (answer and answer.name == "enabled") then
			return nil, failure(answer, "undefined-condition");
		end
		return {
			type = "enabled"; session = session;
			id = answer.attr.id; resume_max = answer.attr.max;
			finish = function() end;
		};
	end
end

if not rawget(mod_smacks, "do_resume") then
	function mod_smacks.do_resume(session, stanza)
		local original = session.username and registry[jid.join(session.username, session.host, stanza.attr.previd)];
		-- On success handle_resume hands this connection's (held) rawsend to
		-- the original session.
		local kept, rawsend = held(session, function()
			mod_smacks.handle_resume(session, stanza, stanza.attr.xmlns);
		end, { original });
		local answer = table.remove(kept, 1);
		if not (original and answer and answer.name == "resumed") then
			return nil, failure(answer, "item-not-found");
		end
		rawsend.session = original; -- as handle_resume does (Prosody rebinds upvalues so)
		-- SASL2's later success hooks (mod_sasl2_fast's) now see the original
		-- session: give it this login's state.
		original.sasl_handler, original.client_id = session.sasl_handler, session.client_id;
		original.fast_token_request = session.fast_token_request;
		return {
			type = "resumed"; session = original; id = stanza.attr.previd;
			-- The stanzas the client missed (and an <r/>), after <success/>.
			finish = function()
				for _, t in ipairs(kept) do rawsend(t); end
			end;
		};
	end
end
