// CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO.

package cachenode

import "strconv"

// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
func cmdClientTracking(c *conn, args [][]byte) {
	tr := &tracking{}
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch {
		case eq(args[j], "redirect") && more:
			j++
			if tr.redirect != 0 {
				c.err("ERR A client can only redirect to a single other client")
				return
			}
			id, err := strconv.ParseInt(string(args[j]), 10, 64)
			if err != nil {
				c.err(errNotInt)
				return
			}
			c.s.trk.mu.Lock()
			_, ok := c.s.trk.clients[id]
			c.s.trk.mu.Unlock()
			if !ok {
				c.err("ERR The client ID you want redirect to does not exist")
				return
			}
			tr.redirect = id
		case eq(args[j], "bcast"):
			tr.bcast = true
		case eq(args[j], "optin"):
			tr.optin = true
		case eq(args[j], "optout"):
			tr.optout = true
		case eq(args[j], "noloop"):
			tr.noloop = true
		case eq(args[j], "prefix") && more:
			j++
			tr.prefixes = append(tr.prefixes, string(args[j]))
		default:
			c.err(errSyntax)
			return
		}
	}
	switch {
	case eq(args[2], "on"):
	case eq(args[2], "off"):
		if c.trk != nil {
			c.s.trk.disable(c)
		}
		c.ok()
		return
	default:
		c.err(errSyntax)
		return
	}
	cur := c.trk
	switch {
	case !tr.bcast && len(tr.prefixes) > 0:
		c.err("ERR PREFIX option requires BCAST mode to be enabled")
		return
	case cur != nil && cur.bcast != tr.bcast:
		c.err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
		return
	case tr.bcast && (tr.optin || tr.optout):
		c.err("ERR OPTIN and OPTOUT are not compatible with BCAST")
		return
	case tr.optin && tr.optout:
		c.err("ERR You can't specify both OPTIN mode and OPTOUT mode")
		return
	case cur != nil && ((tr.optin && cur.optout) || (tr.optout && cur.optin)):
		c.err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
		return
	}
	if tr.bcast {
		// Prefixes of one client must not overlap (a key would be sent
		// twice); Redis's checks and messages.
		var existing []string
		if cur != nil {
			c.s.trk.mu.Lock()
			existing = append(existing, cur.prefixes...)
			c.s.trk.mu.Unlock()
		}
		for i, p := range tr.prefixes {
			for _, q := range existing {
				if overlaps(p, q) {
					c.err("ERR Prefix '" + p + "' overlaps with an existing prefix '" + q + "'. Prefixes for a single client must not overlap.")
					return
				}
			}
			for _, q := range tr.prefixes[i+1:] {
				if overlaps(p, q) {
					c.err("ERR Prefix '" + p + "' overlaps with another provided prefix '" + q + "'. Prefixes for a single client must not overlap.")
					return
				}
			}
		}
	}
	c.s.trk.enable(c, tr)
	c.ok()
}

// CLIENT CACHING YES|NO
func cmdClientCaching(c *conn, args [][]byte) {
	tr := c.trk
	if tr == nil {
		c.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch {
	case eq(args[2], "yes"):
		if !tr.optin {
			c.err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
	case eq(args[2], "no"):
		if !tr.optout {
			c.err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	c.s.trk.mu.Lock()
	tr.caching = true
	c.s.trk.mu.Unlock()
	c.ok()
}

// CLIENT GETREDIR: the redirect target, 0 without one, -1 with tracking off.
func cmdClientGetRedir(c *conn, _ [][]byte) {
	switch tr := c.trk; {
	case tr == nil:
		c.int(-1)
	default:
		c.int(tr.redirect)
	}
}

// CLIENT TRACKINGINFO
func cmdClientTrackingInfo(c *conn, _ [][]byte) {
	c.s.trk.mu.Lock()
	var tr tracking
	on := c.trk != nil
	if on {
		tr = *c.trk
		tr.prefixes = append([]string(nil), c.trk.prefixes...)
	}
	c.s.trk.mu.Unlock()
	c.mapLen(3)
	c.bulkStr("flags")
	flags := []string{"off"}
	if on {
		flags[0] = "on"
		for _, f := range []struct {
			set  bool
			name string
		}{
			{tr.bcast, "bcast"},
			{tr.optin, "optin"}, {tr.optin && tr.caching, "caching-yes"},
			{tr.optout, "optout"}, {tr.optout && tr.caching, "caching-no"},
			{tr.noloop, "noloop"}, {tr.brokenRedir, "broken_redirect"},
		} {
			if f.set {
				flags = append(flags, f.name)
			}
		}
	}
	c.setLen(len(flags))
	for _, f := range flags {
		c.bulkStr(f)
	}
	c.bulkStr("redirect")
	switch {
	case !on:
		c.int(-1)
	default:
		c.int(tr.redirect)
	}
	c.bulkStr("prefixes")
	c.array(len(tr.prefixes))
	for _, p := range tr.prefixes {
		c.bulkStr(p)
	}
}
