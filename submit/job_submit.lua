--[[
depotdelivery for Slurm 22.05: pin a job's Julia image when it is submitted.

Users ask for an image in the job's comment (in 22.05 --comment is the field
users can set and the Prolog sees; --extra is parsed as --extra-node-info):

    sbatch --comment=julia-image=stable job.sh
    srun --comment=julia-image=stable depotdelivery run -- julia analysis.jl

where the reference is a channel, an image name, or an image id (or a unique
prefix of at least 8 hex digits).  At submit this script:

  * resolves the reference to the immutable image id, through the index that
    `depotdelivery slurm-index` writes beside this file, and records the pin
    in the comment as `julia-image-id=ID julia-image-level=LEVEL` (the Prolog
    sees the comment as SLURM_JOB_COMMENT for batch and srun jobs alike;
    batch jobs also get DEPOTDELIVERY_PIN in their environment);
  * adds the CPU-level constraint the image needs: its lowest variant level,
    a node Feature that `depotdelivery detect --format slurm` wrote;
  * refuses, with a message sbatch/srun print, an unknown or broken reference,
    an expired channel, a malformed comment, a forged pin, and every image
    request while the index is missing or corrupt.  Jobs that ask for no
    image are never touched.

On modify (scontrol update), users cannot change a job's pin, and a new
constraint keeps the CPU level.

It runs inside slurmctld, under its locks: no network, no processes, no
signature checks (slurm-index verified everything).  The index is one small
local file, read per submission and parsed only when its bytes change.
If the site already has a job_submit.lua, call depotdelivery_job_submit and
depotdelivery_job_modify from it (they return slurm.SUCCESS or slurm.ERROR).
]]

local HEADER = "depotdelivery-slurm-index 1"
local MAX_INDEX_BYTES = 4 * 1024 * 1024
local LEVEL_RANK = { ["x86-64"] = 1, ["x86-64-v2"] = 2, ["x86-64-v3"] = 3, ["x86-64-v4"] = 4 }

-- The index lives beside this script unless slurmctld's environment says otherwise.
local function script_dir()
	local src = debug.getinfo(1, "S").source or ""
	return src:match("^@(.*/)[^/]*$") or "/etc/slurm/"
end
local INDEX_PATH = os.getenv("DEPOTDELIVERY_SLURM_INDEX") or (script_dir() .. "depotdelivery-index.txt")

local function is_name(s)
	return s ~= nil and #s <= 64 and s:match("^[%w][%w%._%-]*$") ~= nil
end

local function is_hex(s, min, max)
	return s ~= nil and #s >= min and #s <= max and s:match("^[0-9a-f]+$") ~= nil
end

local function words(line)
	local out = {}
	for w in line:gmatch("[^ ]+") do out[#out + 1] = w end
	return out
end

-- "x86-64,x86-64-v3" -> { "x86-64", "x86-64-v3" } sorted by level, or nil.
local function parse_levels(text)
	local out = {}
	for name in text:gmatch("[^,]+") do
		if not LEVEL_RANK[name] then return nil end
		out[#out + 1] = name
	end
	if #out == 0 then return nil end
	table.sort(out, function(a, b) return LEVEL_RANK[a] < LEVEL_RANK[b] end)
	return out
end

-- The Lua twin of slurm_index.parse: any doubt -> nil, reason (never half an index).
local function parse_index(text)
	local idx = { channels = {}, images = {}, names = {}, broken = {} }
	local lineno, count, ended = 0, 0, false
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		lineno = lineno + 1
		if lineno == 1 then
			if line ~= HEADER then return nil, "bad first line" end
		elseif line ~= "" and line:sub(1, 1) ~= "#" then
			if ended then return nil, "text after the end line" end
			local f = words(line)
			local kind = f[1]
			if kind == "end" and #f == 2 then
				if tonumber(f[2]) ~= count then
					return nil, "end line says " .. f[2] .. " records, found " .. count .. " (truncated?)"
				end
				ended = true
			else
				count = count + 1
				local levels
				if kind == "channel" and #f == 5 and is_name(f[2]) and is_hex(f[3], 64, 64)
						and f[5]:match("^%d+$") then
					levels = parse_levels(f[4])
					if not levels then return nil, "bad levels on line " .. lineno end
					idx.channels[f[2]] = { id = f[3], levels = levels, expires = tonumber(f[5]) }
				elseif kind == "image" and #f == 4 and is_hex(f[2], 64, 64) and f[4]:match("^%d+$") then
					levels = parse_levels(f[3])
					if not levels then return nil, "bad levels on line " .. lineno end
					idx.images[f[2]] = { id = f[2], levels = levels }
				elseif kind == "name" and #f == 3 and is_name(f[2]) and is_hex(f[3], 64, 64) then
					idx.names[f[2]] = f[3]
				elseif kind == "broken" and #f >= 3 then
					idx.broken[f[2]] = line:match("^broken [^ ]+ (.*)$")
				else
					return nil, "malformed line " .. lineno
				end
			end
		end
	end
	if not ended then return nil, "no end line (truncated?)" end
	return idx
end

local cached_text, cached_idx, cached_err

local function load_index()
	local f = io.open(INDEX_PATH, "rb")
	if not f then
		return nil, "the site's image index " .. INDEX_PATH .. " is missing; "
			.. "the admin must run `depotdelivery slurm-index`"
	end
	local text = f:read(MAX_INDEX_BYTES + 1) or ""
	f:close()
	if text ~= cached_text then  -- Lua interns strings: an unchanged file costs one compare
		cached_text = text
		if #text > MAX_INDEX_BYTES then
			cached_idx, cached_err = nil, "too large"
		else
			cached_idx, cached_err = parse_index(text)
		end
		if not cached_idx then
			slurm.log_error("depotdelivery: image index %s is corrupt: %s", INDEX_PATH, cached_err)
		end
	end
	if not cached_idx then
		return nil, "the site's image index " .. INDEX_PATH .. " is corrupt (" .. cached_err
			.. "); the admin must re-run `depotdelivery slurm-index`"
	end
	return cached_idx
end

local USAGE = "use --comment=julia-image=REF (REF: a channel, image name or image id)"

-- The comment's julia-image tokens; other words are the user's and are kept.
-- -> { ref=, id=, level=, other={...} } or nil, message
local function parse_comment(comment)
	local info = { other = {} }
	if comment == nil then return info end
	for tok in comment:gmatch("%S+") do
		if tok:sub(1, 11) == "julia-image" then
			local key, val = tok:match("^(julia%-image[%w%-]*)=(.*)$")
			local field = ({ ["julia-image"] = "ref", ["julia-image-id"] = "id",
				["julia-image-level"] = "level" })[key or ""]
			if not field then
				return nil, "malformed job comment '" .. tok .. "': " .. USAGE
			end
			if info[field] then
				return nil, "job comment names " .. key .. " twice: " .. USAGE
			end
			if (field == "ref" and not is_name(val)) or (field == "id" and not is_hex(val, 64, 64))
					or (field == "level" and not LEVEL_RANK[val]) then
				return nil, "malformed job comment '" .. tok .. "': " .. USAGE
			end
			info[field] = val
		else
			info.other[#info.other + 1] = tok
		end
	end
	return info
end

local function compose_comment(ref, id, level, other)
	local toks = { "julia-image=" .. ref, "julia-image-id=" .. id, "julia-image-level=" .. level }
	for _, t in ipairs(other) do toks[#toks + 1] = t end
	return table.concat(toks, " ")
end

local function channel_list(idx)
	local names = {}
	for n in pairs(idx.channels) do names[#names + 1] = n end
	table.sort(names)
	if #names == 0 then return "none published" end
	return table.concat(names, ", ", 1, math.min(#names, 12)) .. (#names > 12 and ", ..." or "")
end

-- ref -> { id=, levels=, expires=, what= } or nil, message
local function resolve(idx, ref)
	local c = idx.channels[ref]
	if c then return { id = c.id, levels = c.levels, expires = c.expires, what = "channel " .. ref } end
	local why = idx.broken[ref]
	if why then
		return nil, "julia-image=" .. ref .. " failed verification when the index was written ("
			.. why .. "); ask the image's publisher"
	end
	local id = idx.names[ref]
	if not id and is_hex(ref, 8, 64) then
		for full in pairs(idx.images) do
			if full:sub(1, #ref) == ref then
				if id then return nil, "julia-image=" .. ref .. " matches several images; give more digits" end
				id = full
			end
		end
		if not id then
			for full, reason in pairs(idx.broken) do
				if full:sub(1, #ref) == ref then
					return nil, "image " .. full:sub(1, 12) .. " failed verification (" .. reason .. ")"
				end
			end
		end
	end
	local img = id and idx.images[id]
	if img then return { id = img.id, levels = img.levels, what = "image " .. ref } end
	return nil, "unknown julia-image '" .. ref .. "': not a channel, image name or image id "
		.. "this site publishes (channels: " .. channel_list(idx) .. ")"
end

-- Add the CPU level to the job's own constraint (Slurm: & is AND).
local function with_level(features, level)
	if features == nil or features == "" then return level end
	for tok in features:gmatch("[^&]+") do
		if tok == level then return features end
	end
	if features:find("[|%[%]%*%(%)]") then return "(" .. features .. ")&" .. level end
	return features .. "&" .. level
end

-- sbatch/srun show log_user text; 22.05 discards it in job_modify (scontrol
-- update only says "Unspecified error"), so there it goes to slurmctld's log.
local function refuse(msg, in_modify)
	if not in_modify then slurm.log_user("%s", "depotdelivery: " .. msg) end
	slurm.log_info("depotdelivery: refused: %s", msg)
	return slurm.ERROR
end

function depotdelivery_job_submit(job_desc, submit_uid)
	local info, err = parse_comment(job_desc.comment)
	if not info then return refuse(err) end
	if info.id or info.level then
		return refuse("julia-image-id and julia-image-level are set by the site at submit; " .. USAGE)
	end
	if not info.ref then return slurm.SUCCESS end  -- not a depotdelivery job
	local idx, ierr = load_index()
	if not idx then return refuse("cannot pin julia-image=" .. info.ref .. ": " .. ierr) end
	local entry, rerr = resolve(idx, info.ref)
	if not entry then return refuse(rerr) end
	if entry.expires and entry.expires <= os.time() then
		return refuse(entry.what .. " expired at " .. os.date("!%Y-%m-%dT%H:%M:%SZ", entry.expires)
			.. " (nodes would refuse it); ask the publisher to refresh it")
	end
	local level = entry.levels[1]
	job_desc.comment = compose_comment(info.ref, entry.id, level, info.other)
	job_desc.features = with_level(job_desc.features, level)
	if job_desc.script ~= nil then  -- batch: the script and its steps see the pin directly
		pcall(function() job_desc.environment.DEPOTDELIVERY_PIN = entry.id end)
	end
	-- Shown by sbatch/srun: what the job will run, and where it may run.  If
	-- no node offers that feature, Slurm refuses the job right after this
	-- ("Invalid feature specification") instead of leaving it pending.
	slurm.log_user("%s", "depotdelivery: julia-image=" .. info.ref .. " pinned to image "
		.. entry.id:sub(1, 12) .. " (variants " .. table.concat(entry.levels, ",")
		.. "); needs a node with feature " .. level)
	slurm.log_info("depotdelivery: uid %s julia-image=%s -> %s constraint %s", tostring(submit_uid),
		info.ref, entry.id, job_desc.features)
	return slurm.SUCCESS
end

function depotdelivery_job_modify(job_desc, job_rec, modify_uid)
	local old = parse_comment(job_rec.comment) or { other = {} }
	if job_desc.comment ~= nil then
		local new, err = parse_comment(job_desc.comment)
		if not new then return refuse(err, true) end
		if old.id and (new.ref == nil or new.ref == old.ref) and new.id == nil and new.level == nil then
			-- An edit that leaves the image alone (or restates it) keeps the pin.
			job_desc.comment = compose_comment(old.ref, old.id, old.level, new.other)
		elseif modify_uid ~= 0 and (new.ref ~= old.ref or new.id ~= old.id or new.level ~= old.level) then
			if not old.id then
				return refuse("ask for a julia-image when submitting the job, not afterwards", true)
			end
			return refuse("the image of job " .. tostring(job_rec.job_id) .. " was pinned at submit ("
				.. old.ref .. " -> " .. old.id:sub(1, 12) .. ") and cannot be changed; "
				.. "cancel it and submit again", true)
		end
	end
	if old.level and job_desc.features ~= nil then
		job_desc.features = with_level(job_desc.features, old.level)
	end
	return slurm.SUCCESS
end

function slurm_job_submit(job_desc, part_list, submit_uid)
	return depotdelivery_job_submit(job_desc, submit_uid)
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	return depotdelivery_job_modify(job_desc, job_rec, modify_uid)
end

slurm.log_info("depotdelivery: job_submit.lua loaded; index %s", INDEX_PATH)
return slurm.SUCCESS
