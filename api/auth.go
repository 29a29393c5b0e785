package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
)

// TokenCookie is the cookie that carries a token for browser pages: set
// when the dashboard is opened with ?token=, so its assets and API calls
// are authorised too.
const TokenCookie = "quantrac_token"

const localPrincipal = "quantrac.principal"

// principal is who made a request.
type principal struct {
	Name     string
	Role     string
	Province string // empty: every province
}

// principalOf returns the authenticated caller of c (after guard).
func principalOf(c *fiber.Ctx) principal {
	if p, ok := c.Locals(localPrincipal).(principal); ok {
		return p
	}
	return principal{}
}

// requestToken finds the token in the Authorization header, the token
// parameter (EventSource, CSV links) or the cookie.
func requestToken(c *fiber.Ctx) (string, string) {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:]), "header"
		}
		return "", "malformed"
	}
	if t := c.Query("token"); t != "" {
		return t, "query"
	}
	if t := c.Cookies(TokenCookie); t != "" {
		return t, "cookie"
	}
	return "", ""
}

func (s *Server) authenticate(c *fiber.Ctx) (principal, error) {
	if s.tokens.Len() == 0 {
		if ip := c.Context().RemoteIP(); ip != nil && ip.IsLoopback() {
			return principal{Name: "loopback", Role: RoleAdmin}, nil
		}
		return principal{}, newHTTPError(fiber.StatusForbidden, errForbidden,
			"no api tokens are configured, so only loopback clients are answered; create one with `api token create -role ROLE -name NAME`")
	}
	tok, from := requestToken(c)
	if from == "malformed" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="quantrac"`)
		return principal{}, newHTTPError(fiber.StatusUnauthorized, errAuth, "Authorization header must be `Bearer <token>`")
	}
	if tok == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="quantrac"`)
		return principal{}, newHTTPError(fiber.StatusUnauthorized, errAuth, "a token is required: send `Authorization: Bearer <token>` or ?token=")
	}
	info, ok := s.tokens.Lookup(tok)
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="quantrac", error="invalid_token"`)
		return principal{}, newHTTPError(fiber.StatusUnauthorized, errAuth, "unknown or revoked token")
	}
	return principal{Name: info.Name, Role: info.Role, Province: info.Province}, nil
}

// guard lets a request through when its token's role allows need.
func (s *Server) guard(need string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if !roleAllows(p.Role, need) {
			return newHTTPError(fiber.StatusForbidden, errForbidden, "token %q has role %s; this route needs %s", p.Name, p.Role, need)
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// scopeMatchers adds the caller's province to a query's matchers, so a
// province-scoped token sees only its province's series.
func scopeMatchers(p principal, ms []*model.Matcher) []*model.Matcher {
	if p.Province == "" {
		return ms
	}
	out := make([]*model.Matcher, 0, len(ms)+1)
	out = append(out, ms...)
	return append(out, model.MustMatcher(model.MatchEqual, model.LabelProvince, p.Province))
}
