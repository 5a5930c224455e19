package main

// keyRotationDuty rotates and retires signing keys while this node leads
// (stub: replaced by the key rotation's owner).
func (n *node) keyRotationDuty() {}
