package org.iomapfs.fuse;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.lockdep.LockGraph;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.store.Fsck;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.belongToAnyOf;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The daemon and the CLI drive the engine through its api ({@code Vfs}, {@code Controls}, errno) and its
 * configuration, and reach it only at the entry points: {@link IomapFs#open}, {@link Mkfs}, {@link Fsck} and
 * lockdep's switch and reports ({@link LockOrder}, {@link LockGraph}); {@code iomapfs explore} adds the explorer
 * (package {@code explore}, its switch-point property in {@link Sched}, the switch names in {@link Bug}). Engine
 * internals stay out of fs-fuse.
 */
class EngineBoundaryTest {
    private static final JavaClasses FUSE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.iomapfs.fuse");

    @Test
    void fuseUsesOnlyTheEngineApiAndItsEntryPoints() {
        noClasses().that().resideInAPackage("org.iomapfs.fuse..")
                .should().dependOnClassesThat(resideInAPackage("org.iomapfs.core..")
                        .and(not(resideInAnyPackage("org.iomapfs.core.api..", "org.iomapfs.core.config..",
                                "org.iomapfs.core.explore..")))
                        .and(not(belongToAnyOf(IomapFs.class, Mkfs.class, Fsck.class, LockOrder.class, LockGraph.class,
                                Sched.class, Bug.class))))
                .check(FUSE);
    }
}
