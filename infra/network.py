"""The network box: a VPC over two zones, private subnets, security groups, VPC endpoints."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

POSTGRES_PORT = 5432
HTTPS_PORT = 443


@dataclass
class NetworkArgs:
    cidr: str
    zones: tuple[str, ...]
    region: str
    endpoint_services: tuple[str, ...]
    nat_gateway: bool = False


class Network(pulumi.ComponentResource):
    """Private subnets for RDS and Lambda; PostgreSQL reachable from the proxy and migrate groups."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Network", name, None, opts)
        self._prefix = name
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            name, cidr_block=args.cidr, enable_dns_hostnames=True, enable_dns_support=True,
            tags={"Name": name}, opts=child,
        )
        blocks = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=_subnet_prefix(args.cidr)))
        self.private_route_table = aws.ec2.RouteTable(
            f"{name}-private", vpc_id=self.vpc.id, tags={"Name": f"{name}-private"}, opts=child
        )
        self.private_subnets = [
            self._subnet(f"{name}-private-{zone}", str(blocks[i]), zone, self.private_route_table)
            for i, zone in enumerate(args.zones)
        ]
        if args.nat_gateway:
            public_blocks = [str(b) for b in blocks[len(args.zones) : 2 * len(args.zones)]]
            self._nat(args.zones, public_blocks)
        (self.lambda_sg, self.db_sg, self.endpoint_sg, self.proxy_sg,
         self.migrate_sg) = self._security_groups(args.nat_gateway)
        self.endpoints = [self._endpoint(service, args.region) for service in args.endpoint_services]
        self.register_outputs({
            "vpc_id": self.vpc.id,
            "private_subnet_ids": [s.id for s in self.private_subnets],
            "lambda_security_group_id": self.lambda_sg.id,
            "db_security_group_id": self.db_sg.id,
            "proxy_security_group_id": self.proxy_sg.id,
            "migrate_security_group_id": self.migrate_sg.id,
        })

    @property
    def private_subnet_ids(self) -> list[pulumi.Output[str]]:
        return [subnet.id for subnet in self.private_subnets]

    def _subnet(
        self, name: str, cidr: str, zone: str, route_table: aws.ec2.RouteTable
    ) -> aws.ec2.Subnet:
        child = pulumi.ResourceOptions(parent=self)
        subnet = aws.ec2.Subnet(
            name, vpc_id=self.vpc.id, cidr_block=cidr, availability_zone=zone,
            map_public_ip_on_launch=False, tags={"Name": name}, opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-rt", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
        )
        return subnet

    def _nat(self, zones: tuple[str, ...], blocks: list[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        igw = aws.ec2.InternetGateway(f"{self._prefix}-igw", vpc_id=self.vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{self._prefix}-public", vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}], opts=child,
        )
        public = [
            self._subnet(f"{self._prefix}-public-{zone}", block, zone, public_rt)
            for zone, block in zip(zones, blocks, strict=True)
        ]
        # One NAT gateway, not one per zone: outbound traffic is rare and a second costs money.
        eip = aws.ec2.Eip(f"{self._prefix}-nat", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(
            f"{self._prefix}-nat", subnet_id=public[0].id, allocation_id=eip.id, opts=child
        )
        aws.ec2.Route(
            f"{self._prefix}-private-default", route_table_id=self.private_route_table.id,
            destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id, opts=child,
        )

    def _security_groups(self, nat_gateway: bool) -> tuple[aws.ec2.SecurityGroup, ...]:
        """API function → proxy → database; the migrate function → database directly."""
        child = pulumi.ResourceOptions(parent=self)
        groups = tuple(
            aws.ec2.SecurityGroup(
                f"{self._prefix}-{role}", vpc_id=self.vpc.id, description=description,
                tags={"Name": f"{self._prefix}-{role}"}, opts=child,
            )
            for role, description in (
                ("lambda", "Miyabi Lambda functions"),
                ("db", "Miyabi PostgreSQL, reachable from the proxy and migrate groups only"),
                ("endpoints", "VPC interface endpoints, HTTPS from the Lambda group"),
                ("proxy", "Miyabi RDS Proxy, reachable from the API function only"),
                ("migrate", "Miyabi migrate function, the only direct client of PostgreSQL"),
            )
        )
        lambda_sg, db_sg, endpoint_sg, proxy_sg, migrate_sg = groups
        self._allow(f"{self._prefix}-proxy-from-lambda", proxy_sg, lambda_sg, POSTGRES_PORT)
        self._allow(f"{self._prefix}-db-from-proxy", db_sg, proxy_sg, POSTGRES_PORT)
        self._allow(f"{self._prefix}-db-from-migrate", db_sg, migrate_sg, POSTGRES_PORT)
        self._allow(f"{self._prefix}-endpoints-from-lambda", endpoint_sg, lambda_sg, HTTPS_PORT)
        self._allow(f"{self._prefix}-endpoints-from-migrate", endpoint_sg, migrate_sg, HTTPS_PORT)
        for name, source, target, port in (
            ("lambda-to-proxy", lambda_sg, proxy_sg, POSTGRES_PORT),
            ("lambda-to-endpoints", lambda_sg, endpoint_sg, HTTPS_PORT),
            ("proxy-to-db", proxy_sg, db_sg, POSTGRES_PORT),
            ("migrate-to-db", migrate_sg, db_sg, POSTGRES_PORT),
            ("migrate-to-endpoints", migrate_sg, endpoint_sg, HTTPS_PORT),
        ):
            aws.vpc.SecurityGroupEgressRule(
                f"{self._prefix}-{name}", security_group_id=source.id, ip_protocol="tcp",
                from_port=port, to_port=port, referenced_security_group_id=target.id, opts=child,
            )
        if nat_gateway:
            aws.vpc.SecurityGroupEgressRule(
                f"{self._prefix}-lambda-https-out", security_group_id=lambda_sg.id,
                ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT,
                cidr_ipv4="0.0.0.0/0", opts=child,
            )
        return groups

    def _allow(
        self, name: str, target: aws.ec2.SecurityGroup, source: aws.ec2.SecurityGroup, port: int
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            name, security_group_id=target.id, ip_protocol="tcp", from_port=port, to_port=port,
            referenced_security_group_id=source.id, opts=pulumi.ResourceOptions(parent=self),
        )

    def _endpoint(self, service: str, region: str) -> aws.ec2.VpcEndpoint:
        return aws.ec2.VpcEndpoint(
            f"{self._prefix}-{service}", vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Interface",
            private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
            security_group_ids=[self.endpoint_sg.id], opts=pulumi.ResourceOptions(parent=self),
        )


def _subnet_prefix(cidr: str) -> int:
    # Four equal blocks: two private, two public (used only with a NAT gateway).
    return ipaddress.ip_network(cidr).prefixlen + 2
