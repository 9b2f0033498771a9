/** The bounded ring of engine events behind the {@code trace} control; written by every layer, read by none. */
package org.iomapfs.core.trace;
