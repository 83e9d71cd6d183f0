// The thin libvirt wrapper lives here.
import CLibvirt
