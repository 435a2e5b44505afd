package main

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// changeOwner becomes userName and groupName (its primary group when "")
// once the sockets and logs are open, as Icecast's <changeowner> does when
// started as root.
func changeOwner(userName, groupName string) error {
	u, err := user.Lookup(userName)
	if err != nil {
		return fmt.Errorf("changeowner: %v", err)
	}
	gid := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return fmt.Errorf("changeowner: %v", err)
		}
		gid = g.Gid
	}
	uidN, err1 := strconv.Atoi(u.Uid)
	gidN, err2 := strconv.Atoi(gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("changeowner: user %s has no numeric ids (%s:%s)", userName, u.Uid, gid)
	}
	// Group first: once the user is not root it may not change groups.
	if err := syscall.Setgroups([]int{gidN}); err != nil {
		return fmt.Errorf("changeowner: setgroups: %v", err)
	}
	if err := syscall.Setgid(gidN); err != nil {
		return fmt.Errorf("changeowner: setgid %d: %v", gidN, err)
	}
	if err := syscall.Setuid(uidN); err != nil {
		return fmt.Errorf("changeowner: setuid %d: %v", uidN, err)
	}
	return nil
}
