--[[
  The transaction record, included by every script that reads or writes it. It is a hash at the
  subject's key (e.g. the order's), beside the subject's own fields:
    tx, tx_protocol, tx_state ('trying' | 'aborting' | 'committed'), tx_reason (abort reason),
    tx_lease (lease end, ms by this shard's clock), tx_owner     while a transaction is open
    tx_failures (drives that ended with it still open), tx_error (the last one's participants'
    outcomes), tx_parked ('1': retried only every park interval; see failedTx.lua)
    last_tx, last_outcome ('committed' or the abort reason)      once one was decided
  and two sorted sets per partition (a shard, or a cluster slot: in the subject's, so begin and
  close touch one slot): the subjects whose record is open, scored by lease end, which the recovery
  sweep reads (pendingTransactions.lua), and those parked, scored by when.
]]
--@include "clock.lua"
--@include "txOpen.lua"

local TX_OPEN_FIELDS = {'tx', 'tx_protocol', 'tx_state', 'tx_reason', 'tx_lease', 'tx_owner', 'tx_failures', 'tx_error', 'tx_parked'}

-- Takes a closing record's subject out of the parked index, which holds it only while the record's
-- tx_parked is '1' (failedTx.lua sets both in one script): a record never parked costs no write.
local function tx_unpark(parked_index, subject, tx_parked)
  if tx_parked == '1' then redis.call('ZREM', parked_index, subject) end
end


-- The reply for a transaction that is no longer the record's open one but was its last:
-- {'committed'} | {'aborted', reason}; {'unknown'} when the record does not remember it.
local function tx_ended(tx, last_tx, last_outcome)
  if last_tx ~= tx then return {'unknown'} end
  if last_outcome == 'committed' then return {'committed'} end
  return {'aborted', last_outcome}
end

--[[
  The entry to every transaction: starts the subject's, hands an abandoned one to the caller, or
  tells the caller who is driving.
    r         the record's TX_BEGIN_FIELDS, read by the caller (in the same HMGET as its own fields)
    new_tx    start mode: the id to begin. A request sends the same id again when a begin's answer
              was lost, so finding it open (and still leased to this owner) or last ended means
              that begin ran: it is driven, or its outcome answered, rather than waited on.
    mode      'start' (a request), 'watch' (waiting on a running one), 'resume' (the recovery
              sweep), 'retry' (an operator: drives a parked one now, whatever its lease)
    refusal   a function: nil if the subject may start a transaction now, else the word for why
              not (called only when it matters, so its reads are paid only then)
    payload   a function returning the subject's snapshot, appended to a 'drive' reply
  Returns
    {'drive', tx, protocol, state, reason, payload...}   the caller holds the lease and must drive tx
    {'busy', tx}                                         another caller holds a live lease on tx
    {'parked', tx}                                       start/watch mode: its abort is parked
    {'refused', refusal}                                 start mode: nothing to do
    {'done', last outcome or ''}                         watch/resume/retry mode: no transaction is open
]]
local TX_BEGIN_FIELDS = {'tx', 'tx_protocol', 'tx_state', 'tx_reason', 'tx_lease', 'tx_owner', 'last_tx', 'tx_parked'}

local function tx_begin(record, pending, r, subject, mode, new_tx, protocol, lease_ms, owner, refusal, payload)
  local now = tx_now()
  -- `created`: the fields that start a new transaction, written with the lease in one HSET.
  local function drive(tx, proto, state, reason, created)
    local lease_end = now + tonumber(lease_ms)
    if created then
      -- A new transaction has no abort reason: tx_reason is written only by an abort (abortTx.lua).
      redis.call('HSET', record, 'tx', tx, 'tx_protocol', proto, 'tx_state', state, 'tx_lease', lease_end, 'tx_owner', owner)
    else
      redis.call('HSET', record, 'tx_lease', lease_end, 'tx_owner', owner)
    end
    redis.call('ZADD', pending, lease_end, subject)
    local reply = {'drive', tx, proto, state, reason}
    for _, v in ipairs(payload()) do reply[#reply + 1] = v end
    return reply
  end

  local tx, state = r[1], r[3]
  if mode == 'start' and tx == new_tx and r[6] == owner then
    return drive(tx, r[2] or 'saga', state, r[4] or '')
  end
  if tx then
    local parked = r[8] == '1'
    if mode == 'retry' then
      if parked then return drive(tx, r[2] or 'saga', state, r[4] or '') end
      return {'busy', tx}
    end
    -- A parked abort is not driven by requests (it failed for as long as the park bound allows):
    -- they are told so. The sweep still retries it, once its lease (the park interval) runs out.
    if parked and state == 'aborting' and mode ~= 'resume' then return {'parked', tx} end
    local live = tonumber(r[5]) >= now
    if state == 'committed' then
      -- Decided: only its confirms are left, which whoever holds the lease sends.
      if mode == 'watch' then return {'done', 'committed'} end
      if mode == 'start' and live then
        local why = refusal()
        if why then return {'refused', why} end
      end
      if live then return {'busy', tx} end
    elseif state == 'trying' and live then
      return {'busy', tx}
    end
    -- A decided abort may be cancelled by anyone at any time (cancels are idempotent and final);
    -- only a transaction still trying is exclusive to its lease holder.
    return drive(tx, r[2] or 'saga', state, r[4] or '')
  end

  if mode ~= 'start' or r[7] == new_tx then
    redis.call('ZREM', pending, subject)
    return {'done', redis.call('HGET', record, 'last_outcome') or ''}
  end
  local why = refusal()
  if why then return {'refused', why} end
  return drive(new_tx, protocol, 'trying', '', true)
end

--[[
  A subject's begin script, in the layout RedisTxLog calls it with, so the script itself holds only
  what is the subject's: whether it exists, why it may not start, its snapshot.
    KEYS[1] the record (the subject's hash), KEYS[2] its partition's open records
    ARGV[1] mode: tx_begin's, or 'check' (only says whether the subject could start one; writes
            nothing), ARGV[2] new tx id, ARGV[3] protocol, ARGV[4] lease ms, ARGV[5] owner,
            ARGV[6] subject, ARGV[7..] the subject's own
    exists  whether the subject exists; r, refusal, payload as tx_begin (refusal is asked only of
            a subject that exists)
  Returns tx_begin's replies; {'refused', 'not_found'} in any mode but 'check' for a subject that
  does not exist (and it leaves the open records); in 'check' mode {'not_found' | refusal | 'ok'}.
]]
local function tx_begin_subject(exists, r, refusal, payload)
  if ARGV[1] == 'check' then return {(not exists and 'not_found') or refusal() or 'ok'} end
  if not exists then
    redis.call('ZREM', KEYS[2], ARGV[6])
    return {'refused', 'not_found'}
  end
  return tx_begin(KEYS[1], KEYS[2], r, ARGV[6], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], refusal, payload)
end
