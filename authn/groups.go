package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// KindGroup is the store object kind of groups (key tenant/objectId).
const KindGroup = "groups"

// Group is a security group: its members are object ids of service
// principals and of other groups (nested groups count: a member of a
// member group is a member too, for RBAC).
type Group struct {
	TenantID     string    `json:"tenantId"`
	ObjectID     string    `json:"id"`
	DisplayName  string    `json:"displayName"`
	Description  string    `json:"description,omitempty"`
	MailNickname string    `json:"mailNickname,omitempty"`
	Members      []string  `json:"members"`
	CreatedAt    time.Time `json:"createdDateTime"`
}

func groupKey(tenantID, objectID string) string {
	return strings.ToLower(tenantID) + "/" + strings.ToLower(objectID)
}

// CreateGroup creates a group in a tenant.
func (s *Service) CreateGroup(ctx context.Context, tenantID, displayName string) (*Group, error) {
	return s.CreateGroupFrom(ctx, tenantID, Group{DisplayName: displayName})
}

// CreateGroupFrom creates a group with the display name, description
// and mail nickname of g (its id, members and times are new).
func (s *Service) CreateGroupFrom(ctx context.Context, tenantID string, spec Group) (*Group, error) {
	tenantID = strings.ToLower(tenantID)
	if strings.TrimSpace(spec.DisplayName) == "" {
		return nil, errors.New("authn: a group needs a display name")
	}
	oid, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	g := &Group{TenantID: tenantID, ObjectID: oid, DisplayName: spec.DisplayName, Description: spec.Description, MailNickname: spec.MailNickname,
		Members: []string{}, CreatedAt: s.now()}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return fmt.Errorf("authn: tenant %q: %w", tenantID, err)
		}
		return putGroup(ctx, tx, g, g.CreatedAt)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Group returns a group; the error wraps store.ErrNotFound if there is
// none.
func (s *Service) Group(ctx context.Context, tenantID, objectID string) (*Group, error) {
	var g *Group
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		g, err = getGroup(ctx, tx, tenantID, objectID)
		return err
	})
	return g, err
}

// AddMember adds an object (a service principal or a group of the
// tenant) to a group; adding a member twice is a no-op.
func (s *Service) AddMember(ctx context.Context, tenantID, groupID, memberID string) error {
	typ, ok, err := s.ObjectType(ctx, tenantID, memberID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("authn: member %q: no service principal or group of tenant %q has that object id: %w", memberID, tenantID, store.ErrNotFound)
	}
	if typ == "Group" && strings.EqualFold(memberID, groupID) {
		return fmt.Errorf("authn: a group cannot be a member of itself")
	}
	return s.updateGroup(ctx, tenantID, groupID, func(g *Group) {
		if !slices.ContainsFunc(g.Members, func(m string) bool { return strings.EqualFold(m, memberID) }) {
			g.Members = append(g.Members, strings.ToLower(memberID))
		}
	})
}

// RemoveMember removes a member from a group.
func (s *Service) RemoveMember(ctx context.Context, tenantID, groupID, memberID string) error {
	return s.updateGroup(ctx, tenantID, groupID, func(g *Group) {
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return strings.EqualFold(m, memberID) })
	})
}

// DeleteGroup deletes a group (it leaves the groups it was a member of).
func (s *Service) DeleteGroup(ctx context.Context, tenantID, groupID string) error {
	defer s.groupsGen.Add(1)
	return s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := getGroup(ctx, tx, tenantID, groupID); err != nil {
			return err
		}
		if err := tx.DeleteObject(ctx, KindGroup, groupKey(tenantID, groupID)); err != nil {
			return err
		}
		return leaveGroups(ctx, tx, tenantID, groupID, s.now())
	})
}

// Groups lists the groups of a tenant, ordered by creation.
func (s *Service) Groups(ctx context.Context, tenantID string) ([]*Group, error) {
	var out []*Group
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = tenantGroups(ctx, tx, tenantID)
		return err
	})
	slices.SortFunc(out, func(a, b *Group) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// MemberOf returns the ids of the groups an object is a direct member
// of.
func (s *Service) MemberOf(ctx context.Context, tenantID, objectID string) ([]string, error) {
	var out []string
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = memberOf(ctx, tx, tenantID, objectID)
		return err
	})
	return out, err
}

// memberOf is MemberOf in a transaction.
func memberOf(ctx context.Context, tx store.Tx, tenantID, objectID string) ([]string, error) {
	var out []string
	gs, err := tenantGroups(ctx, tx, tenantID)
	for _, g := range gs {
		if slices.ContainsFunc(g.Members, func(m string) bool { return strings.EqualFold(m, objectID) }) {
			out = append(out, g.ObjectID)
		}
	}
	return out, err
}

// ObjectType returns the type of a directory object by object id
// (ServicePrincipal, User or Group); ok is false when the tenant has
// none.
func (s *Service) ObjectType(ctx context.Context, tenantID, objectID string) (typ string, ok bool, err error) {
	tenantID, objectID = strings.ToLower(tenantID), strings.ToLower(objectID)
	err = s.st.Read(ctx, func(tx store.Tx) error {
		if _, err := getGroup(ctx, tx, tenantID, objectID); err == nil {
			typ, ok = "Group", true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.GetObject(ctx, KindUser, userKey(tenantID, objectID)); err == nil {
			typ, ok = "User", true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		objs, err := tx.ListObjects(ctx, KindServicePrincipal)
		if err != nil {
			return err
		}
		for _, o := range objs {
			var rec spRecord
			if json.Unmarshal(o.Body, &rec) == nil && !rec.NoServicePrincipal && strings.EqualFold(rec.TenantID, tenantID) && strings.EqualFold(rec.ObjectID, objectID) {
				typ, ok = "ServicePrincipal", true
				return nil
			}
		}
		return nil
	})
	return typ, ok, err
}

func (s *Service) updateGroup(ctx context.Context, tenantID, groupID string, change func(*Group)) error {
	defer s.groupsGen.Add(1)
	return s.st.Write(ctx, func(tx store.Tx) error {
		g, err := getGroup(ctx, tx, tenantID, groupID)
		if err != nil {
			return err
		}
		change(g)
		return putGroup(ctx, tx, g, s.now())
	})
}

// GroupsVersion changes after every change of a group's members this
// service makes (after its commit): what caches memberships (access)
// reads them again when it differs, so that a membership changed here
// decides at once; another replica's change is seen after its cache's
// lifetime.
func (s *Service) GroupsVersion() uint64 { return s.groupsGen.Load() }

func getGroup(ctx context.Context, tx store.Tx, tenantID, objectID string) (*Group, error) {
	o, err := tx.GetObject(ctx, KindGroup, groupKey(tenantID, objectID))
	if err != nil {
		return nil, fmt.Errorf("authn: group %q in tenant %q: %w", objectID, tenantID, err)
	}
	var g Group
	if err := json.Unmarshal(o.Body, &g); err != nil {
		return nil, fmt.Errorf("authn: group %s: %w", o.Key, err)
	}
	return &g, nil
}

func tenantGroups(ctx context.Context, tx store.Tx, tenantID string) ([]*Group, error) {
	objs, err := tx.ListObjects(ctx, KindGroup)
	if err != nil {
		return nil, err
	}
	prefix := strings.ToLower(tenantID) + "/"
	var out []*Group
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, prefix) {
			continue
		}
		var g Group
		if err := json.Unmarshal(o.Body, &g); err != nil {
			return nil, fmt.Errorf("authn: group %s: %w", o.Key, err)
		}
		out = append(out, &g)
	}
	return out, nil
}

func putGroup(ctx context.Context, tx store.Tx, g *Group, now time.Time) error {
	body, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindGroup, Key: groupKey(g.TenantID, g.ObjectID), Body: body, UpdatedAt: now})
}
